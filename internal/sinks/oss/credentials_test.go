package oss

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func env(m map[string]string) Option {
	return WithGetenv(func(k string) string { return m[k] })
}

// deadMetadata is a metadata URL that refuses connections, so that tests
// never reach the real 100.100.100.200.
func deadMetadata(t *testing.T) Option {
	srv := httptest.NewServer(http.NotFoundHandler())
	u := srv.URL
	srv.Close()
	return WithMetadataURL(u)
}

func pick(t *testing.T, c Config, opts ...Option) (*chosenCreds, string, error) {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	o.defaults()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ch, err := chooseCredentials(context.Background(), c, &o, log)
	return ch, logs.String(), err
}

func TestOSSCredentialsChainOrder(t *testing.T) {
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "logship.yaml")
	os.WriteFile(cfgFile, []byte("x"), 0o600)
	withCfg := Config{AccessKeyID: "LTAI5tFromConfig0002", AccessKeySecret: "config-secret"}
	full := map[string]string{"OSS_ACCESS_KEY_ID": "LTAI5tFromEnvxx0001", "OSS_ACCESS_KEY_SECRET": "env-secret", "OSS_SESSION_TOKEN": "env-token"}
	noUtil := WithOssutilConfig(filepath.Join(dir, "none"))
	for _, tc := range []struct {
		name   string
		c      Config
		opts   []Option
		source string
		id     string
		logs   []string
	}{
		{name: "env first", c: withCfg, opts: []Option{env(full)}, source: "env", id: "LTAI****0001"},
		{name: "incomplete env skipped", c: withCfg, opts: []Option{env(map[string]string{"OSS_ACCESS_KEY_ID": "x"}), WithConfigFile(cfgFile)},
			source: "config", id: "LTAI****0002", logs: []string{"only one of OSS_ACCESS_KEY_ID"}},
		{name: "ossutil 1", opts: []Option{env(nil), WithOssutilConfig("testdata/ossutilconfig")}, source: "ossutilconfig", id: "LTAI****1234"},
		{name: "ossutil 2", opts: []Option{env(nil), WithOssutilConfig("testdata/ossutilconfig-v2")}, source: "ossutilconfig", id: "LTAI****2v00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, logs, err := pick(t, tc.c, append([]Option{noUtil, deadMetadata(t)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			if ch.name != tc.source || ch.maskedID != tc.id {
				t.Fatalf("chose %s %s, want %s %s", ch.name, ch.maskedID, tc.source, tc.id)
			}
			cr, err := ch.provider.GetCredentials(context.Background())
			if err != nil || cr.AccessKeySecret == "" {
				t.Fatalf("provider: %v", err)
			}
			for _, w := range tc.logs {
				if !strings.Contains(logs, w) {
					t.Errorf("logs lack %q:\n%s", w, logs)
				}
			}
			if strings.Contains(logs, cr.AccessKeySecret) {
				t.Fatalf("secret logged:\n%s", logs)
			}
		})
	}
	t.Run("env token", func(t *testing.T) {
		ch, _, err := pick(t, Config{}, env(full))
		if err != nil {
			t.Fatal(err)
		}
		cr, _ := ch.provider.GetCredentials(context.Background())
		if cr.SecurityToken != "env-token" {
			t.Fatalf("token %q", cr.SecurityToken)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		_, _, err := pick(t, Config{}, env(nil), deadMetadata(t), noUtil)
		if !errors.Is(err, errNoCredentials) || !strings.Contains(err.Error(), "OSS_ACCESS_KEY_ID") || !strings.Contains(err.Error(), "ecs-ram-role") {
			t.Fatalf("%v", err)
		}
	})
}

// A reader (WithLocalCredentialsFirst) finds ~/.ossutilconfig without
// asking the metadata service, and waits for that service no longer than
// it was told when nothing else has keys.
func TestOSSLocalCredentialsFirst(t *testing.T) {
	var asked atomic.Int32
	release := make(chan struct{})
	stall := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		select { // accepts and never answers, like a transparent proxy
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer stall.Close()
	defer close(release)
	ch, _, err := pick(t, Config{}, env(nil), WithMetadataURL(stall.URL), WithOssutilConfig("testdata/ossutilconfig"),
		WithLocalCredentialsFirst(time.Second))
	if err != nil || ch.name != "ossutilconfig" || asked.Load() != 0 {
		t.Fatalf("chose %v, %v; metadata asked %d times", ch, err, asked.Load())
	}
	_, _, err = pick(t, Config{}, env(nil), WithMetadataURL(stall.URL), WithOssutilConfig(filepath.Join(t.TempDir(), "none")),
		WithLocalCredentialsFirst(50*time.Millisecond))
	if !errors.Is(err, errNoCredentials) || !strings.Contains(err.Error(), "deadline exceeded") || asked.Load() != 1 ||
		strings.Index(err.Error(), "none)") > strings.Index(err.Error(), "ecs-ram-role") {
		t.Fatalf("%v; metadata asked %d times", err, asked.Load())
	}
}

func TestOSSConfigFileReadableByOthers(t *testing.T) {
	dir := t.TempDir()
	c := Config{AccessKeyID: "LTAI5tFromConfig0002", AccessKeySecret: "config-secret"}
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o640, true}, {0o644, true}, {0o400, false}} {
		f := filepath.Join(dir, "logship.yaml")
		os.Remove(f)
		if err := os.WriteFile(f, []byte("x"), tc.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(f, tc.mode)
		ch, logs, err := pick(t, c, env(nil), WithConfigFile(f))
		if err != nil || ch.name != "config" {
			t.Fatalf("%v %v", ch, err)
		}
		if got := strings.Contains(logs, "chmod 600"); got != tc.warn {
			t.Errorf("mode %04o: warned %v, want %v:\n%s", tc.mode, got, tc.warn, logs)
		}
		if strings.Contains(logs, "config-secret") {
			t.Fatal("secret logged")
		}
	}
}

// metadataServer imitates the ECS instance metadata service.
type metadataServer struct {
	*httptest.Server
	clock     *fakeClock
	hardened  bool // token endpoint exists and reads need the token
	fail      atomic.Bool
	credReads atomic.Int32
	tokenPuts atomic.Int32
	serial    atomic.Int32
}

func newMetadataServer(t *testing.T, clock *fakeClock, hardened bool) *metadataServer {
	m := &metadataServer{clock: clock, hardened: hardened}
	const role = "LogshipRole"
	m.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.fail.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		if r.URL.Path == "/latest/api/token" {
			if !m.hardened {
				http.NotFound(w, r)
				return
			}
			if r.Method != http.MethodPut || r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds") == "" {
				http.Error(w, "bad token request", http.StatusBadRequest)
				return
			}
			m.tokenPuts.Add(1)
			w.Write([]byte("tok-123"))
			return
		}
		if m.hardened && r.Header.Get("X-aliyun-ecs-metadata-token") != "tok-123" {
			http.Error(w, "token required", http.StatusForbidden)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/ram/security-credentials/":
			w.Write([]byte(role))
		case "/latest/meta-data/ram/security-credentials/" + role:
			m.credReads.Add(1)
			n := m.serial.Add(1)
			json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "AccessKeyId": "STS.LTAIrole000" + string(rune('0'+n)), "AccessKeySecret": "role-secret",
				"SecurityToken": "role-token", "Expiration": m.clock.now().Add(time.Hour).UTC().Format(time.RFC3339),
				"LastUpdated": m.clock.now().UTC().Format(time.RFC3339),
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

func TestOSSECSRoleCredentials(t *testing.T) {
	for _, hardened := range []bool{true, false} {
		name := "hardened"
		if !hardened {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			clock := &fakeClock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
			m := newMetadataServer(t, clock, hardened)
			ch, logs, err := pick(t, Config{}, env(nil), WithMetadataURL(m.URL), WithClock(clock.now))
			if err != nil {
				t.Fatal(err)
			}
			if ch.name != "ecs-ram-role" || ch.detail != "LogshipRole" {
				t.Fatalf("chose %s %s", ch.name, ch.detail)
			}
			ctx := context.Background()
			get := func() string {
				t.Helper()
				cr, err := ch.provider.GetCredentials(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if cr.SecurityToken != "role-token" || cr.Expires == nil {
					t.Fatalf("%+v", cr)
				}
				return cr.AccessKeyID
			}
			first := get()
			clock.add(30 * time.Minute)
			if get() != first || m.credReads.Load() != 1 {
				t.Fatalf("refreshed too early: %d reads", m.credReads.Load())
			}
			clock.add(20 * time.Minute) // 10 minutes before expiry: refresh
			second := get()
			if second == first || m.credReads.Load() != 2 {
				t.Fatalf("not refreshed before expiry: %s, %d reads", second, m.credReads.Load())
			}
			// The service fails while the credentials are still valid:
			// keep them, and try again only after a pause.
			m.fail.Store(true)
			clock.add(50 * time.Minute)
			if get() != second {
				t.Fatal("valid credentials dropped on a failed refresh")
			}
			clock.add(15 * time.Minute) // expired now
			if _, err := ch.provider.GetCredentials(ctx); err == nil {
				t.Fatal("expired credentials returned")
			}
			m.fail.Store(false)
			if get() == second {
				t.Fatal("no new credentials after the service came back")
			}
			if hardened && m.tokenPuts.Load() == 0 {
				t.Fatal("hardened mode not used")
			}
			if strings.Contains(logs, "role-secret") || strings.Contains(logs, "role-token") {
				t.Fatalf("secret logged:\n%s", logs)
			}
		})
	}
}

// An error from the metadata service never quotes its answer (which holds
// the secret).
func TestOSSECSErrorsDoNotQuoteTheAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/latest/api/token":
			w.Write([]byte("tok"))
		case "/latest/meta-data/ram/security-credentials/":
			w.Write([]byte("R"))
		default:
			w.Write([]byte(`{"AccessKeyId":"id","AccessKeySecret":"leaky-secret","Expiration":"soon"}`))
		}
	}))
	defer srv.Close()
	p := newECSProvider(srv.URL, time.Now, slog.New(slog.DiscardHandler))
	_, err := p.GetCredentials(context.Background())
	if err == nil || strings.Contains(err.Error(), "leaky-secret") {
		t.Fatalf("%v", err)
	}
}
