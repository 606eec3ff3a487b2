package agent

import (
	"testing"
	"time"

	"github.com/logship/logship/internal/config"
)

// The pipeline and the artifact uploader both take Options' Retry: it
// must carry retry_refused, not the package default.
func TestOptionsRetryRefused(t *testing.T) {
	cfg, err := config.Parse([]byte("app: shop\nsources: [{type: file, paths: [a.log]}]\npipeline:\n  retry_refused: 7s\n  state_dir: ./state\n"), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := Options(cfg, nil, nil).Retry.Permanent; got != 7*time.Second {
		t.Errorf("Options(...).Retry.Permanent = %v, want retry_refused 7s", got)
	}
}
