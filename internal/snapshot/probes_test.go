package snapshot

import (
	"crypto/x509"
	"github.com/logship/logship/internal/schema"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProbes checks a local TLS server step by step (DNS, TCP, TLS, HTTP
// with timings), a plain TCP target, a closed port and a server whose
// certificate is not trusted, as curl -v would report them.
func TestProbes(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Probe", "seen "+r.URL.Path)
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte("short and stout"))
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	probes := []Probe{
		{Name: "app", URL: "https://127.0.0.1:" + port + "/health?x=1"},
		{Name: "raw", Addr: srv.Listener.Addr().String()},
		{Name: "down", Addr: closedAddr},
	}
	b, _ := takeBundle(t, Options{App: "a", Host: "h", RootCAs: roots, Config: Config{Probes: probes},
		Collectors: []Collector{{Name: "probes", Run: collectProbes}}}, Request{})
	out := string(b.files["probes.txt"])
	timing := `\(\d+\.\dms\)`
	for _, re := range []string{
		`== probe app: https://127\.0\.0\.1:` + port + `/health\?x=1`,
		`\* DNS 127\.0\.0\.1: 127\.0\.0\.1 ` + timing,
		`\* TCP connect 127\.0\.0\.1:` + port + `: connected from 127\.0\.0\.1:\d+ ` + timing,
		`\* TLS handshake: TLS 1\.3, TLS_\w+, ALPN "" ` + timing,
		`certificate: subject .*issuer`,
		`> GET /health\?x=1 HTTP/1\.1`,
		`< HTTP/1\.1 418 I'm a teapot \(first byte after \d+\.\dms\)`,
		`< X-Probe: seen /health`,
		`\* body 15 bytes; total \d+\.\dms`,
		`== probe raw: tcp 127\.0\.0\.1:` + port + `\n\* DNS 127\.0\.0\.1: 127\.0\.0\.1 ` + timing + `\n\* TCP connect [^\n]*connected[^\n]*\n\* total`,
		`== probe down: tcp ` + regexp.QuoteMeta(closedAddr) + `\n[^=]*connection refused[^=]*\* FAILED: no address`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("probes.txt lacks %s:\n%s", re, out)
		}
	}
	m := b.manifest(t)
	if c, _ := m.collector("probes"); c.Status != StatusError || !strings.Contains(c.Error, "1 of 3 probes failed") {
		t.Errorf("collector %+v", c)
	}

	// Without the test CA the handshake fails, as curl's would.
	b, _ = takeBundle(t, Options{App: "a", Host: "h", Config: Config{Probes: probes[:1]},
		Collectors: []Collector{{Name: "probes", Run: collectProbes}}}, Request{})
	if out := string(b.files["probes.txt"]); !strings.Contains(out, "FAILED: TLS handshake with 127.0.0.1") || !strings.Contains(out, "certificate") {
		t.Errorf("untrusted certificate:\n%s", out)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want []string
	}{
		{"defaults", Config{}, nil},
		{"bad", Config{LogTailBytes: -1, PresignExpiry: schema.Duration(8 * 24 * time.Hour), Probes: []Probe{{URL: "ftp://x"}, {Addr: "nohost"}, {}}},
			[]string{"log_tail_bytes: -1 is negative", "presign_expiry: 192h is too long", "probes[0].url", "probes[1].addr", "probes[2]: set exactly one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.c
			c.SetDefaults()
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if c.Timeout.Std() != DefaultTimeout || c.PresignExpiry.Std() != DefaultPresignExpiry || !c.OnEvents.Enabled(TriggerOOMKill) || !c.OnEvents.Enabled(TriggerExit) {
					t.Errorf("defaults %+v", c)
				}
				return
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v lacks %q", err, w)
				}
			}
		})
	}
}
