package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestJSONEmptyLists: the JSON of an empty report has every list field of
// the Result as [] (jq '.oom_kills' prints [], not null), and no null
// anywhere, nested lists of a full report included.
func TestJSONEmptyLists(t *testing.T) {
	res := build(t, t.TempDir(), Options{})
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	rt := reflect.TypeOf(Result{})
	lists := 0
	for i := 0; i < rt.NumField(); i++ {
		f := rt.Field(i)
		if f.Type.Kind() != reflect.Slice {
			continue
		}
		lists++
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if got := string(m[name]); got != "[]" {
			t.Errorf("%s (%s): %q, want []", name, f.Name, got)
		}
	}
	if lists < 12 {
		t.Errorf("only %d list fields found in Result", lists)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("null in the JSON of an empty report: %s", b)
	}
	full, err := json.Marshal(build(t, "testdata/incident", Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(full), "null") {
		t.Errorf("null in the JSON of the incident report: %s", full)
	}
}
