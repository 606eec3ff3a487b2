package oss

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logship/logship/internal/sinks"
)

// The clock step reads a skew of exactly 3m0s whatever the fraction of the
// second the answer was stamped in (Date is truncated to whole seconds)
// and when a second boundary passes during the request: it compares the
// middle of the server's second with the middle of the request.
func TestClockSkewAcrossSecondBoundary(t *testing.T) {
	const skew = 3 * time.Minute
	base := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, frac := range []time.Duration{0, 100 * time.Millisecond, 490 * time.Millisecond, 900 * time.Millisecond, 999 * time.Millisecond} {
		mid := base.Add(frac) // local time half way through the request
		date := mid.Add(skew).Truncate(time.Second).Format(http.TimeFormat)
		var got sinks.Step
		k := &checker{report: func(st sinks.Step) { got = st }}
		k.clock(date, mid)
		if got.Verdict != sinks.Warn || !strings.Contains(got.Detail, "off by 3m0s") {
			t.Errorf("answer at +%v in its second: %s %q, want warn, off by 3m0s", frac, got.Verdict, got.Detail)
		}
	}
}
