package report

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe
// (fd 3: commands to the browser, fd 4: replies and events, each message
// JSON ended by a NUL byte). Enough to load a page, watch its console
// and network, evaluate checks and take a screenshot; a CDP library
// (chromedp and its generated protocol package) would be a large
// dependency for that.

type cdpMsg struct {
	ID        int64                     `json:"id,omitempty"`
	Method    string                    `json:"method,omitempty"`
	Params    json.RawMessage           `json:"params,omitempty"`
	Result    json.RawMessage           `json:"result,omitempty"`
	Error     *struct{ Message string } `json:"error,omitempty"`
	SessionID string                    `json:"sessionId,omitempty"`
}

type cdp struct {
	w       io.Writer
	mu      sync.Mutex
	next    int64
	waiting map[int64]chan cdpMsg
	events  chan cdpMsg
	done    chan struct{}
}

func newCDP(w io.Writer, r io.Reader) *cdp {
	c := &cdp{w: w, waiting: map[int64]chan cdpMsg{}, events: make(chan cdpMsg, 1024), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		br := bufio.NewReaderSize(r, 1<<20)
		for {
			b, err := br.ReadBytes(0)
			if err != nil {
				return
			}
			var m cdpMsg
			if json.Unmarshal(b[:len(b)-1], &m) != nil {
				continue
			}
			if m.ID != 0 {
				c.mu.Lock()
				ch := c.waiting[m.ID]
				delete(c.waiting, m.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- m
				}
				continue
			}
			select {
			case c.events <- m:
			default: // the test reads events as they come; never block the reader
			}
		}
	}()
	return c
}

func (c *cdp) call(ctx context.Context, session, method string, params any, result any) error {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan cdpMsg, 1)
	c.waiting[id] = ch
	c.mu.Unlock()
	p, _ := json.Marshal(params)
	b, _ := json.Marshal(cdpMsg{ID: id, Method: method, Params: p, SessionID: session})
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-c.done:
		return fmt.Errorf("%s: browser closed the pipe", method)
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// findChromium returns the browser binary, or skips (fails under CI).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (apt-get install -y chromium); CI must run this test")
	}
	t.Skip("chromium is not installed: apt-get update && apt-get install -y chromium (the test runs under CI=true)")
	return ""
}

// pageCheck is what a page says about itself in the browser.
type pageCheck struct {
	Charts         int     `json:"charts"`
	SVGShapes      int     `json:"svgShapes"`
	ScrollWidth    float64 `json:"scrollWidth"`
	InnerWidth     float64 `json:"innerWidth"`
	UserSelectNone int     `json:"userSelectNone"`
	Selected       int     `json:"selected"`
	Height         float64 `json:"height"`
	SmallText      int     `json:"smallText"`
	SmallSVGText   int     `json:"smallSvgText"`
	// Problems are console errors, exceptions and network requests seen
	// while the page loaded.
	Problems []string `json:"-"`
}

const checkJS = `(() => {
  const all = [...document.querySelectorAll('*')];
  const sel = window.getSelection(); const rg = document.createRange();
  rg.selectNodeContents(document.querySelector('main')); sel.removeAllRanges(); sel.addRange(rg);
  const selected = sel.toString().length; sel.removeAllRanges();
  const small = all.filter(e => e.closest('svg') === null && e.childElementCount === 0 && e.textContent.trim() !== '' &&
     parseFloat(getComputedStyle(e).fontSize) < 11).length;
  return JSON.stringify({
    charts: document.querySelectorAll('svg.chart').length,
    svgShapes: document.querySelectorAll('svg.chart rect, svg.chart path, svg.chart circle').length,
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
    userSelectNone: all.filter(e => getComputedStyle(e).userSelect === 'none').length,
    selected: selected, height: document.documentElement.scrollHeight, smallText: small,
    smallSvgText: [...document.querySelectorAll('svg.chart text')].filter(e => {
      const r = e.getBoundingClientRect(); return r.height > 0 && r.height < 10; }).length});
})()`

// renderInChromium loads file in headless Chromium at each width and
// checks it; screenshots go to dir.
func renderInChromium(t *testing.T, file, dir string, widths []int) map[int]pageCheck {
	bin := findChromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	toBrowserR, toBrowserW, _ := os.Pipe()
	fromBrowserR, fromBrowserW, _ := os.Pipe()
	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--disable-extensions", "--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toBrowserR, fromBrowserW}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toBrowserR.Close()
	fromBrowserW.Close()
	c := newCDP(toBrowserW, fromBrowserR)
	defer func() {
		_ = c.call(ctx, "", "Browser.close", nil, nil)
		toBrowserW.Close()
		if err := cmd.Wait(); err != nil && ctx.Err() != nil {
			t.Logf("chromium: %v\n%s", err, stderr.String())
		}
	}()
	var tgt struct{ TargetID string }
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &tgt); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var att struct{ SessionID string }
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": tgt.TargetID, "flatten": true}, &att); err != nil {
		t.Fatal(err)
	}
	s := att.SessionID
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := c.call(ctx, s, m, map[string]any{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	url := "file://" + file
	out := map[int]pageCheck{}
	for _, w := range widths {
		mobile := w < 600
		if err := c.call(ctx, s, "Emulation.setDeviceMetricsOverride", map[string]any{"width": w, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.call(ctx, s, "Page.navigate", map[string]any{"url": url}, nil); err != nil {
			t.Fatal(err)
		}
		var problems []string
	wait:
		for {
			select {
			case ev := <-c.events:
				if p := eventProblem(ev, url); p != "" {
					problems = append(problems, p)
				}
				if ev.Method == "Page.loadEventFired" {
					break wait
				}
			case <-ctx.Done():
				t.Fatalf("width %d: the page did not load: %v", w, ctx.Err())
			}
		}
		var ev struct {
			Result struct{ Value string }
		}
		if err := c.call(ctx, s, "Runtime.evaluate", map[string]any{"expression": checkJS, "returnByValue": true}, &ev); err != nil {
			t.Fatal(err)
		}
		var pc pageCheck
		if err := json.Unmarshal([]byte(ev.Result.Value), &pc); err != nil {
			t.Fatalf("width %d: %v: %q", w, err, ev.Result.Value)
		}
		var shot struct{ Data string }
		clip := map[string]any{"x": 0, "y": 0, "width": w, "height": min(pc.Height, 12000), "scale": 1}
		if err := c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true, "clip": clip}, &shot); err != nil {
			t.Fatal(err)
		}
		png, _ := base64.StdEncoding.DecodeString(shot.Data)
		name := filepath.Join(dir, fmt.Sprintf("report-%dpx.png", w))
		if err := os.WriteFile(name, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot at %d px: %s", w, name)
		// Drain what arrived while checking.
		for drained := false; !drained; {
			select {
			case ev := <-c.events:
				if p := eventProblem(ev, url); p != "" {
					problems = append(problems, p)
				}
			default:
				drained = true
			}
		}
		pc.Problems = problems
		out[w] = pc
	}
	return out
}

// eventProblem says what is wrong with a browser event: a console error,
// an exception, a log entry of level error, or a request for anything but
// the page itself.
func eventProblem(ev cdpMsg, page string) string {
	switch ev.Method {
	case "Runtime.consoleAPICalled":
		var p struct{ Type string }
		_ = json.Unmarshal(ev.Params, &p)
		if p.Type == "error" || p.Type == "warning" || p.Type == "assert" {
			return "console " + p.Type + ": " + string(ev.Params)
		}
	case "Runtime.exceptionThrown":
		return "exception: " + string(ev.Params)
	case "Log.entryAdded":
		var p struct {
			Entry struct{ Level, Text, URL string }
		}
		_ = json.Unmarshal(ev.Params, &p)
		if p.Entry.Level == "error" || p.Entry.Level == "warning" {
			return "log " + p.Entry.Level + ": " + p.Entry.Text + " " + p.Entry.URL
		}
	case "Network.requestWillBeSent":
		var p struct{ Request struct{ URL string } }
		_ = json.Unmarshal(ev.Params, &p)
		if p.Request.URL != page {
			return "network request: " + p.Request.URL
		}
	case "Network.loadingFailed":
		return "loading failed: " + string(ev.Params)
	}
	return ""
}

// screenshotDir is kept after the test (a CI artifact).
func screenshotDir(t *testing.T) string {
	dir := filepath.Join(os.TempDir(), "logship-report-screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

var errNoChromium = errors.New("no chromium")
