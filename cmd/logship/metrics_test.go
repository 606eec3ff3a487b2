package main

import (
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/logship/logship/internal/config"
)

// TestMetricsHaveTypes: /metrics has a # TYPE line for every family
// (Prometheus takes a series without one as untyped), and the README's
// families are served.
func TestMetricsHaveTypes(t *testing.T) {
	metrics.GetOrCreateCounter(`logship_test_things_total{source="x"}`).Inc()
	rec := httptest.NewRecorder()
	writeMetrics(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, w := range []string{"# TYPE logship_test_things_total counter", "# TYPE go_goroutines gauge", "# TYPE logship_pipeline_chunks_total counter"} {
		if !strings.Contains(body, w) {
			t.Errorf("no %q in:\n%s", w, body[:min(len(body), 2000)])
		}
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
}

// TestMetricsAddrTaken: a metrics_addr already in use is named in the
// error (it said only "bind: address already in use").
func TestMetricsAddrTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := &config.Config{MetricsAddr: ln.Addr().String()}
	if _, err := serveMetrics(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.HasPrefix(err.Error(), "metrics_addr: ") {
		t.Fatalf("%v", err)
	}
}
