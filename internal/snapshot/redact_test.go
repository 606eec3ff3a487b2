package snapshot

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactorMask(t *testing.T) {
	r := NewRedactor([]string{"LTAI5tXyzAccessKey", "s3cr3t-v4lue", "ab"})
	for _, tc := range []struct{ name, in, want string }{
		{"literal anywhere", "connecting with s3cr3t-v4lue now", "connecting with ************ now"},
		{"literal twice", "LTAI5tXyzAccessKey:LTAI5tXyzAccessKey", "******************:******************"},
		{"short literal ignored", "ab cd", "ab cd"},
		{"env pair", "DB_PASSWORD=hunter22", "DB_PASSWORD=********"},
		{"system property", "-Djavax.net.ssl.keyStorePassword=changeit -Xmx1g", "-Djavax.net.ssl.keyStorePassword=******** -Xmx1g"},
		{"json", `{"api_token": "abc123def", "user": "bob"}`, `{"api_token": "*********", "user": "bob"}`},
		{"yaml", "access_key_secret: qwertyuiop", "access_key_secret: **********"},
		{"authorization header", "Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer **************"},
		{"case", "private_KEY=zzzz", "private_KEY=****"},
		{"no secret word", "user=bob count: 3", "user=bob count: 3"},
		{"word without value", "the password is long", "the password is long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.in)
			r.Mask(b)
			if string(b) != tc.want {
				t.Errorf("Mask(%q) = %q, want %q", tc.in, b, tc.want)
			}
		})
	}
}

// TestRedactWriter: the streaming writer masks exactly what Mask does, for
// any split of the input, long lines included, and keeps the length.
func TestRedactWriter(t *testing.T) {
	secret := "Sup3rS3cretValue!"
	r := NewRedactor([]string{secret})
	var in bytes.Buffer
	for i := range 300 {
		switch i % 7 {
		case 0:
			in.WriteString("token=abcdefgh and " + secret + "\n")
		case 3:
			// A line longer than the writer's buffer with the secret
			// across a piece boundary.
			in.WriteString(strings.Repeat("y", maxLine-5) + secret + strings.Repeat("z", 100) + "\n")
		default:
			in.WriteString("plain line of a log\n")
		}
	}
	want := bytes.Clone(in.Bytes())
	r.Mask(want)
	for _, step := range []int{1, 7, 4096, 1 << 20} {
		var out bytes.Buffer
		w := r.Writer(&out)
		data := in.Bytes()
		for len(data) > 0 {
			n := min(step, len(data))
			if _, err := w.Write(data[:n]); err != nil {
				t.Fatal(err)
			}
			data = data[n:]
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.Len() != in.Len() {
			t.Fatalf("step %d: %d bytes out, %d in", step, out.Len(), in.Len())
		}
		if bytes.Contains(out.Bytes(), []byte(secret)) || bytes.Contains(out.Bytes(), []byte("abcdefgh")) {
			t.Fatalf("step %d: a secret passed", step)
		}
		if !bytes.Equal(out.Bytes(), want) {
			t.Fatalf("step %d: output differs from Mask", step)
		}
	}
}

func FuzzRedactWriter(f *testing.F) {
	f.Add([]byte("password=x\nkey: y"), 3)
	f.Fuzz(func(t *testing.T, data []byte, step int) {
		if step <= 0 {
			step = 1
		}
		r := NewRedactor([]string{"secretvalue"})
		var out bytes.Buffer
		w := r.Writer(&out)
		for d := data; len(d) > 0; {
			n := min(step, len(d))
			w.Write(d[:n])
			d = d[n:]
		}
		w.Flush()
		if out.Len() != len(data) {
			t.Fatalf("length %d, want %d", out.Len(), len(data))
		}
		if bytes.Contains(out.Bytes(), []byte("secretvalue")) {
			t.Fatal("literal passed")
		}
	})
}
