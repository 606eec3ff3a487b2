package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/logship/logship/internal/schema"
)

// MaxFileSize bounds a config file; real ones are a few KiB.
const MaxFileSize = 1 << 20

// Load reads and strictly decodes the config file at path. It applies no
// defaults and does not validate: the caller applies ApplyEnv and Set, then
// SetDefaults and Validate (Resolve does all of that). The error, if any,
// is Problems: every problem in the file, each with file:line.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return data, nil
}

// Parse strictly decodes a config document; name is used in messages
// (a file name). Unknown keys, misspellings, values of the wrong type,
// durations without a unit, bad sizes, duplicate keys and YAML syntax
// errors are all reported together as Problems.
func Parse(data []byte, name string) (*Config, error) {
	c, ps := parse(data, name)
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

// parse decodes as much as it can: c is never nil, and holds every value
// that could be read even when there are problems.
func parse(data []byte, name string) (*Config, Problems) {
	c := &Config{origin: &origin{file: name, pos: map[string]position{}}}
	d := &decoder{file: name, c: c, budget: 4*len(data) + 10000}
	if len(data) > MaxFileSize {
		d.add(0, "", "file is %d bytes: a config is at most %d", len(data), MaxFileSize)
		return c, d.ps
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		d.syntax(err, data)
		return c, d.ps
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == 0 || root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		d.add(0, "", "the config is empty: write at least\n"+
			"  app: my-app\n  sources:\n    - type: file\n      paths: [\"/var/log/my-app/*.log\"]\n"+
			"(logship validate --print shows every key with its default)")
		return c, d.ps
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err, data)
	default:
		d.add(next.Line, "", "a second YAML document (---): a config file holds one")
	}
	d.value(root, reflect.ValueOf(c).Elem(), "")
	return c, d.ps
}

type decoder struct {
	file    string
	c       *Config
	ps      Problems
	budget  int          // nodes left to visit: bounds alias expansion
	merging []*yaml.Node // mappings being decoded, to refuse << cycles
}

// spend takes n nodes from the budget, reporting once when it runs out.
func (d *decoder) spend(n, line int, path string) bool {
	if d.budget < 0 {
		return false
	}
	if d.budget -= n; d.budget < 0 {
		d.add(line, path, "too many nodes: aliases expand to far more than the file holds")
		return false
	}
	return true
}

func (d *decoder) add(line int, path, format string, args ...any) {
	p := Problem{Origin: d.file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)}
	if len(d.ps) > 0 && d.ps[len(d.ps)-1] == p {
		return // the same alias, expanded twice
	}
	d.ps = append(d.ps, p)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax turns a YAML parser error into a problem with its line.
func (d *decoder) syntax(err error, data []byte) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	lines := bytes.Split(data, []byte("\n"))
	switch {
	case strings.Contains(msg, "tab") || line > 0 && line <= len(lines) && bytes.HasPrefix(bytes.TrimLeft(lines[line-1], " "), []byte("\t")):
		msg += ": indent with spaces; YAML does not allow tabs"
	case strings.HasPrefix(msg, "did not find expected key"):
		// The parser names the line where the block began, not the one
		// that broke it, and counts it from 0.
		line++
		msg += " in the block that starts here: a line below it is indented differently from its neighbours"
	case strings.HasPrefix(msg, "did not find expected ',' or"):
		line++ // counted from 0, as above
		msg += ": a [ or { opened on this line is not closed"
	}
	d.add(line, "", "YAML syntax: %s", msg)
}

// what names a node's kind for messages.
func what(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return schema.Quote(n.Value)
	}
	return "an alias"
}

// value decodes node n into v, whose key path is path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if !d.spend(1, n.Line, path) {
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // not set: the default applies
	}
	t := v.Type()
	switch {
	case isScalar(t):
		if n.Kind != yaml.ScalarNode {
			d.add(n.Line, path, "expected %s, found %s", describe(t), what(n))
			return
		}
		if err := setScalar(v, n.Value); err != nil {
			d.add(n.Line, path, "%v", err)
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			hint := ""
			if n.Kind == yaml.ScalarNode && t.Elem().Kind() == reflect.String {
				hint = fmt.Sprintf(": write [%s]", schema.Quote(n.Value))
			}
			d.add(n.Line, path, "expected %s, found %s%s", describe(t), what(n), hint)
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, e := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.c.mark(p, position{d.file, e.Line})
			d.value(e, s.Index(i), p)
		}
		v.Set(s)
	case t.Kind() == reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.add(n.Line, path, "expected a mapping of keys (key: value), found %s", what(n))
			return
		}
		d.mapping(n, v, path, map[string]int{}, nodeType(n, nil))
	}
}

// nodeType returns the value of the type: key of mapping n, looking into
// the mappings it merges (<<) when n does not set it; "" when none does.
// It picks, for a key two components share, the component it goes to.
func nodeType(n *yaml.Node, seen []*yaml.Node) string {
	if n.Kind != yaml.MappingNode || slices.Contains(seen, n) || len(seen) > 16 {
		return ""
	}
	seen = append(seen, n)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if val.Kind == yaml.AliasNode && val.Alias != nil {
			val = val.Alias
		}
		if k.Kind == yaml.ScalarNode && k.Value == "type" && k.Tag != "!!merge" && val.Kind == yaml.ScalarNode {
			return val.Value
		}
	}
	for _, m := range mergeTargets(n) {
		if t := nodeType(m, seen); t != "" {
			return t
		}
	}
	return ""
}

// mergeTargets lists the nodes that the merge keys (<<) of mapping n
// merge, in order, aliases resolved; each should be a mapping.
func mergeTargets(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			continue
		}
		if val.Kind == yaml.AliasNode && val.Alias != nil {
			val = val.Alias
		}
		targets := []*yaml.Node{val}
		if val.Kind == yaml.SequenceNode {
			targets = val.Content
		}
		for _, m := range targets {
			if m.Kind == yaml.AliasNode && m.Alias != nil {
				m = m.Alias
			}
			out = append(out, m)
		}
	}
	return out
}

// mapping decodes the keys of mapping n into struct v. Merge keys (<<) are
// applied first so that the keys written beside them win.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string, seen map[string]int, typ string) {
	d.merging = append(d.merging, n)
	defer func() { d.merging = d.merging[:len(d.merging)-1] }()
	fs := fieldsOf(v.Type())
	for _, m := range mergeTargets(n) {
		if m.Kind != yaml.MappingNode {
			d.add(m.Line, path, "<< merges a mapping, found %s", what(m))
			continue
		}
		if slices.Contains(d.merging, m) {
			d.add(m.Line, path, "<< merges a mapping into itself")
			continue
		}
		if !d.spend(len(m.Content), m.Line, path) {
			return
		}
		d.mapping(m, v, path, map[string]int{}, typ)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.add(k.Line, path, "a key must be a plain name, found %s", what(k))
			continue
		}
		p := schema.Join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, p, "set twice (first on line %d): keep one", first)
			continue
		}
		seen[k.Value] = k.Line
		if path == "" && strings.HasPrefix(k.Value, "x-") {
			continue // a place for anchors, as in compose files: x-defaults: &defaults
		}
		f, ok := lookup(fs, k.Value, typ)
		if !ok {
			d.add(k.Line, p, "unknown key%s", d.suggest(k.Value, fs))
			continue
		}
		d.c.mark(p, position{d.file, k.Line})
		d.value(val, v.FieldByIndex(f.index), p)
	}
}

// suggest proposes the closest key of this mapping, or else the section
// where a key of that name lives.
func (d *decoder) suggest(key string, fs []field) string {
	if s := schema.DidYouMean(key, keysOf(fs)); s != "" {
		return s
	}
	for _, k := range append(scalarKeys(), sourceKeys()...) {
		if section, ok := strings.CutSuffix(k, "."+key); ok {
			if section == "sources[]" {
				return "; " + key + " belongs in an entry of sources:"
			}
			return "; " + key + " belongs in " + section + ":"
		}
	}
	return "; known keys: " + strings.Join(keysOf(fs), ", ")
}

// sourceKeys lists the keys of a source as sources[].KEY.
func sourceKeys() []string {
	var keys []string
	for _, k := range keysOf(fieldsOf(reflect.TypeFor[Source]())) {
		keys = append(keys, "sources[]."+k)
	}
	return keys
}
