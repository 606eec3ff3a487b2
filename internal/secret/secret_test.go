package secret

import (
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"java", "java"},
		{"-Dspring.datasource.password=hunter2", "-Dspring.datasource.password=[redacted]"},
		{"--api-token=abc", "--api-token=[redacted]"},
		{"-Daliyun.accessKeySecret=x=y", "-Daliyun.accessKeySecret=[redacted]"},
		{"-Xmx512m", "-Xmx512m"},
		{"-Dserver.port=8080", "-Dserver.port=8080"},
		{"-Dauth.url=http://sso", "-Dauth.url=[redacted]"},
		{"DB_PASSWORD=hunter2", "DB_PASSWORD=[redacted]"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := Args([]string{tc.in})[0]; got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
}

func TestArgsFlagWithSeparateValue(t *testing.T) {
	got := strings.Join(Args([]string{"app", "--db-password", "hunter2", "--port", "8080", "MonkeyMain"}), " ")
	if want := "app --db-password [redacted] --port 8080 MonkeyMain"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	// A flag named like a secret before another one: the other is no
	// value, and is looked at in turn.
	got = strings.Join(Args([]string{"app", "--enable-auth", "--db-password", "hunter2", "-javaagent:/opt/keycloak.jar", "-jar", "app.jar"}), " ")
	if want := "app --enable-auth --db-password [redacted] -javaagent:/opt/keycloak.jar -jar app.jar"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	// A flag at the end hides nothing past it.
	if got := Args([]string{"--token"}); len(got) != 1 || got[0] != "--token" {
		t.Fatalf("%q", got)
	}
}

func TestCommandLine(t *testing.T) {
	in := "-Xmx64m  -Dspring.datasource.password=hunter2 -XX:ErrorFile=/tmp/hs_err_pid%p.log Crash --secret-key s3cr3t"
	got := CommandLine(in)
	if strings.Contains(got, "hunter2") || strings.Contains(got, "s3cr3t") {
		t.Fatalf("a secret is left: %q", got)
	}
	if want := "-Xmx64m  -Dspring.datasource.password=[redacted] -XX:ErrorFile=/tmp/hs_err_pid%p.log Crash --secret-key [redacted]"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
