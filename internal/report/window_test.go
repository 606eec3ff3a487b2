package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// windowFolder writes a pulled folder whose logs are dated days before
// they were shipped (as bench --generate writes them): app.log in two
// chunks ingested at 14:00 and 14:10 on 2026-12-06, old.log and the run
// events in one chunk each, ingested at 14:00 and 14:10.
func windowFolder(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	at := func(hm string) time.Time {
		v, err := time.Parse(time.RFC3339, "2026-12-06T"+hm+":00Z")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	type seg struct {
		Off   int64     `json:"off"`
		Len   int64     `json:"len"`
		First time.Time `json:"first"`
		Last  time.Time `json:"last"`
	}
	files := map[string]map[string]any{}
	write := func(name string, chunks []string, ingest []time.Time) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var segs []seg
		var off int64
		for i, c := range chunks {
			segs = append(segs, seg{Off: off, Len: int64(len(c)), First: ingest[i], Last: ingest[i].Add(time.Minute)})
			off += int64(len(c))
		}
		if err := os.WriteFile(p, []byte(strings.Join(chunks, "")), 0o644); err != nil {
			t.Fatal(err)
		}
		files[name] = map[string]any{"final": map[string]any{"segments": segs}}
	}
	write("demo/vm/file/logs/app.log", []string{
		"2026-11-26 08:00:00.000 ERROR [main] com.example.A - first chunk 1\n" +
			"2026-11-26 08:00:01.000 INFO [main] com.example.A - first chunk 2\n" +
			"2026-11-26 08:00:02.000 INFO [main] com.example.A - first chunk 3\n",
		"2026-11-26 08:05:00.000 ERROR [main] com.example.A - second chunk 1\n" +
			"2026-11-26 08:05:01.000 INFO [main] com.example.A - second chunk 2\n",
	}, []time.Time{at("14:00"), at("14:10")})
	write("demo/vm/file/logs/old.log", []string{
		"2026-11-26 07:00:00.000 WARN [main] com.example.B - old 1\n",
	}, []time.Time{at("14:00")})
	write("demo/vm/event/events.jsonl", []string{
		`{"ts":"2026-11-26T08:06:00Z","event":"exit","pid":7,"cmd":["java"],"exit_code":137,"signal":"SIGKILL","abnormal":true}` + "\n",
	}, []time.Time{at("14:10")})
	b, err := json.Marshal(map[string]any{"v": 1, "files": files})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, ".logship-pull"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".logship-pull", "state.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWindowByIngestTime: --since and --until select as pull does, by the
// ingest times of the chunks, not by the times written in the logs (here
// ten days older): a chunk is in when its ingest times overlap the window,
// a file with no chunk in is not read, and what is in is reported whatever
// its own time.
func TestWindowByIngestTime(t *testing.T) {
	dir := windowFolder(t)
	at := func(hm string) time.Time { v, _ := time.Parse(time.RFC3339, "2026-12-06T"+hm+":00Z"); return v }
	type want struct {
		records, errs int64
		files, exits  int
	}
	for _, c := range []struct {
		name         string
		since, until time.Time
		want         want
	}{
		{"no window", time.Time{}, time.Time{}, want{6, 2, 2, 1}},
		{"since 14:05", at("14:05"), time.Time{}, want{2, 1, 1, 1}},
		{"until 14:05", time.Time{}, at("14:05"), want{4, 1, 2, 0}},
		{"since 14:00:30 until 14:10:30: both chunks overlap", at("14:00").Add(30 * time.Second), at("14:10").Add(30 * time.Second), want{6, 2, 2, 1}},
		{"since 14:20", at("14:20"), time.Time{}, want{0, 0, 0, 0}},
	} {
		res := build(t, dir, Options{Since: c.since, Until: c.until})
		var got want
		for _, h := range res.Hosts {
			got.records += h.Records
			got.errs += h.Levels[LevelError]
			got.exits += len(h.Exits)
		}
		got.files = len(res.Files)
		if got != c.want {
			t.Errorf("%s: records, errors, files, exits %+v, want %+v", c.name, got, c.want)
		}
	}
	// The window is the ingest time: the shipping span is the selected
	// chunks', the timeline keeps what they hold.
	res := build(t, dir, Options{Since: at("14:05")})
	if len(res.Hosts) != 1 || !res.Hosts[0].ShipFirst.Equal(at("14:10")) {
		t.Errorf("hosts %+v, want one that shipped from 14:10", res.Hosts)
	}
	var kinds []string
	for _, ev := range res.Timeline {
		kinds = append(kinds, ev.Kind)
	}
	if k := strings.Join(kinds, " "); !strings.Contains(k, KindExit) || !strings.Contains(k, KindFirstErr) {
		t.Errorf("timeline %v: want the exit and the first error of the chunk ingested at 14:10", kinds)
	}
	if _, err := Build(t.Context(), dir, Options{Since: at("14:10"), Until: at("14:00")}); err == nil {
		t.Error("--until before --since accepted")
	}
}
