package config

import (
	"bytes"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/logship/logship/configs"
)

// EmbeddedName is the name of the embedded default config in messages.
const EmbeddedName = "(embedded default config)"

// Resolve builds the configuration a command runs with, in this order:
// the file at path (when path is "": $LOGSHIP_CONFIG from environ, else
// the embedded default), the LOGSHIP_* variables of environ, sets
// ("key=value" from --set and specific flags, in order), defaults, and
// validation. Every problem of every step comes back together as Problems;
// a value that could not be read is not reported again by validation.
func Resolve(path string, environ, sets []string) (*Config, error) {
	return ResolveDefault(path, configs.Default(), environ, sets)
}

// ResolveDefault is Resolve with def, not configs.Default, as the config
// used when there is no file (logship run has a default of its own).
func ResolveDefault(path string, def []byte, environ, sets []string) (*Config, error) {
	if path == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, EnvConfig+"="); ok {
				path = v
			}
		}
	}
	var c *Config
	var ps Problems
	if path == "" {
		c, ps = parse(def, EmbeddedName)
	} else {
		data, err := readFile(path)
		if err != nil {
			return nil, err
		}
		c, ps = parse(data, path)
	}
	whole := false // a problem with the whole file: validation would only repeat it
	for _, p := range ps {
		whole = whole || p.Path == ""
	}
	if ep, ok := AsProblems(c.ApplyEnv(environ)); ok {
		ps = append(ps, ep...)
	}
	for _, kv := range sets {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			ps = append(ps, Problem{Origin: "--set", Path: kv, Msg: "write key=value, e.g. --set pipeline.max_age=10s"})
			continue
		}
		if sp, ok := AsProblems(c.Set(k, val)); ok {
			for _, p := range sp {
				p.Origin = "--set"
				ps = append(ps, p)
			}
			continue
		}
		c.mark(k, position{origin: "--set"})
	}
	c.SetDefaults()
	if vp, ok := AsProblems(c.Validate()); ok && !whole {
		for _, p := range vp {
			if !reported(ps, p.Path) {
				if p.Origin == "" && path != "" {
					p.Origin = path // a key the file lacks: the file is to blame
				}
				ps = append(ps, p)
			}
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

// reported reports whether path, or a key enclosing it, already has a problem.
func reported(ps Problems, path string) bool {
	for _, p := range ps {
		if p.Path != "" && (path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[")) {
			return true
		}
	}
	return false
}

// YAML renders the effective config, as accepted by Parse, with secrets
// redacted. A source or sink shows the keys of its type only.
func (c *Config) YAML() ([]byte, error) {
	n, err := toNode(reflect.ValueOf(c).Elem())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return buf.Bytes(), nil
}

func toNode(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		fs := fieldsOf(t)
		typ := typeOf(v)
		var done []string
		for _, f := range fs {
			if slices.Contains(done, f.key) {
				continue // a key two types share is shown once
			}
			done = append(done, f.key)
			f, _ = lookup(fs, f.key, typ) // the entry's own, for a shared key
			fv := v.FieldByIndex(f.index)
			if !f.belongs(typ) && fv.IsZero() {
				continue
			}
			vn, err := toNode(fv)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: f.key}, vn)
		}
		return n, nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := range v.Len() {
			e, err := toNode(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, e)
		}
		return n, nil
	}
	n := &yaml.Node{}
	if err := n.Encode(v.Interface()); err != nil { // Secret encodes as [redacted]
		return nil, err
	}
	if n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	return n, nil
}
