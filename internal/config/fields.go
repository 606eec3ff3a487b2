package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/logship/logship/internal/schema"
)

// One reflective walk over the yaml tags serves the file decoder, ApplyEnv,
// Set, Validate and YAML, so a key added to the schema is known everywhere.

var (
	typeDuration = reflect.TypeFor[schema.Duration]()
	typeSize     = reflect.TypeFor[schema.Size]()
	typeBoolPtr  = reflect.TypeFor[*bool]()
)

// field is one struct field as the config sees it.
type field struct {
	key   string   // yaml key
	index []int    // struct field index path (through inline members)
	kinds []string // types it belongs to (the for tag); nil: every type
}

// fieldsOf lists the config fields of struct type t, in declaration order.
// The fields of a member tagged yaml:",inline" are listed in its place,
// belonging to the types of its for tag; a key that two members share
// (paths, in file.Config and crash.Config) is listed once per member.
func fieldsOf(t reflect.Type) []field {
	var fs []field
	for i := range t.NumField() {
		sf := t.Field(i)
		key, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || key == "-" {
			continue
		}
		var kinds []string
		if k := sf.Tag.Get("for"); k != "" {
			kinds = strings.Split(k, ",")
		}
		if key == "" && opts == "inline" && sf.Type.Kind() == reflect.Struct {
			for _, f := range fieldsOf(sf.Type) {
				f.index = append([]int{i}, f.index...)
				if f.kinds == nil {
					f.kinds = kinds
				}
				fs = append(fs, f)
			}
			continue
		}
		if key == "" {
			continue
		}
		fs = append(fs, field{key: key, index: []int{i}, kinds: kinds})
	}
	return fs
}

// lookup finds the field of key for an entry of type typ: the one that
// belongs to typ when several members have the key, else the first.
func lookup(fs []field, key, typ string) (field, bool) {
	var first field
	found := false
	for _, f := range fs {
		if f.key != key {
			continue
		}
		if f.belongs(typ) {
			return f, true
		}
		if !found {
			first, found = f, true
		}
	}
	return first, found
}

// kindsOf lists the types key belongs to, over every member that has it.
func kindsOf(fs []field, key string) []string {
	var kinds []string
	for _, f := range fs {
		if f.key == key {
			for _, k := range f.kinds {
				if !slices.Contains(kinds, k) {
					kinds = append(kinds, k)
				}
			}
		}
	}
	return kinds
}

// keysOf lists the keys of fs, once each.
func keysOf(fs []field) []string {
	var keys []string
	for _, f := range fs {
		if !slices.Contains(keys, f.key) {
			keys = append(keys, f.key)
		}
	}
	return keys
}

// typeOf returns the type field (type:) of struct v, or "".
func typeOf(v reflect.Value) string {
	for _, f := range fieldsOf(v.Type()) {
		if f.key == "type" && v.FieldByIndex(f.index).Kind() == reflect.String {
			return v.FieldByIndex(f.index).String()
		}
	}
	return ""
}

// belongs reports whether a field applies to a source or sink type.
func (f field) belongs(typ string) bool { return f.kinds == nil || slices.Contains(f.kinds, typ) }

// isScalar reports whether values of t are written as one YAML scalar.
func isScalar(t reflect.Type) bool {
	switch {
	case t == typeDuration, t == typeSize, t == typeBoolPtr:
		return true
	case t.Kind() == reflect.String, t.Kind() == reflect.Int:
		return true
	}
	return false
}

// describe says what a value of type t looks like, for messages.
func describe(t reflect.Type) string {
	switch {
	case t == typeDuration:
		return "a duration such as 30s"
	case t == typeSize:
		return "a size such as 8MiB"
	case t == typeBoolPtr:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a string"
	case t.Kind() == reflect.Int:
		return "a whole number"
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return "a list of strings"
	case t.Kind() == reflect.Slice:
		return "a list"
	}
	return "a mapping of keys"
}

// setScalar parses s into v with the rules of v's type. Errors name the
// bad value and the fix, but never a secret's value: a string cannot fail.
func setScalar(v reflect.Value, s string) error {
	t := v.Type()
	switch {
	case t == typeDuration:
		d, err := ParseDuration(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
	case t == typeSize:
		n, err := ParseSize(s)
		if err != nil {
			return err
		}
		v.SetInt(int64(n))
	case t == typeBoolPtr:
		b, err := parseBool(s)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(&b))
	case t.Kind() == reflect.String:
		v.SetString(s)
	case t.Kind() == reflect.Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 0)
		if err != nil {
			return fmt.Errorf("%s is not a whole number", schema.Quote(s))
		}
		v.SetInt(n)
	default:
		return fmt.Errorf("is %s: set it in the config file", describe(t))
	}
	return nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s is not true or false", schema.Quote(s))
}

// scalarKeys lists the dotted paths of every scalar key outside lists:
// the keys that ApplyEnv and Set accept.
func scalarKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for _, f := range fieldsOf(t) {
			ft := t.FieldByIndex(f.index).Type
			switch {
			case isScalar(ft):
				keys = append(keys, prefix+f.key)
			case ft.Kind() == reflect.Struct:
				walk(ft, prefix+f.key+".")
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return keys
}

// EnvName returns the environment variable for a dotted key:
// pipeline.max_bytes is LOGSHIP_PIPELINE_MAX_BYTES.
func EnvName(key string) string {
	return "LOGSHIP_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// EnvConfig names the config file; it is read by commands, not here.
const EnvConfig = "LOGSHIP_CONFIG"

// EnvFrom names the archive that ls, pull, cat, report and snapshot
// --remote read when --from is not given; it is read by commands, not
// here.
const EnvFrom = "LOGSHIP_FROM"

// reservedEnv are LOGSHIP_* variables that are not config keys.
var reservedEnv = []string{EnvConfig, EnvFrom}

// scalar finds the field of a dotted key such as pipeline.max_bytes.
func (c *Config) scalar(key string) (reflect.Value, error) {
	v := reflect.ValueOf(c).Elem()
	for _, part := range strings.Split(key, ".") {
		var f field
		ok := v.Kind() == reflect.Struct
		if ok {
			f, ok = lookup(fieldsOf(v.Type()), part, typeOf(v))
		}
		if !ok {
			return reflect.Value{}, fmt.Errorf("unknown key%s", schema.DidYouMean(key, scalarKeys()))
		}
		v = v.FieldByIndex(f.index)
	}
	switch {
	case isScalar(v.Type()):
		return v, nil
	case v.Kind() == reflect.Struct:
		return reflect.Value{}, fmt.Errorf("is a section: set one of its keys, e.g. %s", scalarKeysUnder(key))
	}
	return reflect.Value{}, fmt.Errorf("is %s: set it in the config file", describe(v.Type()))
}

func scalarKeysUnder(key string) string {
	var under []string
	for _, k := range scalarKeys() {
		if strings.HasPrefix(k, key+".") {
			under = append(under, k)
		}
	}
	if len(under) > 3 {
		under = append(under[:3], "...")
	}
	return strings.Join(under, ", ")
}

// Set sets one scalar key, written dotted (app, pipeline.max_bytes,
// sink.path), parsing value with the rules of the file (durations need a
// unit, sizes take 8MiB). It serves --set key=value and specific flags.
// Keys inside lists (sources) cannot be set this way.
func (c *Config) Set(key, value string) error {
	if err := c.set(key, value); err != nil {
		return Problems{{Path: key, Msg: err.Error()}}
	}
	c.mark(key, position{})
	return nil
}

func (c *Config) set(key, value string) error {
	v, err := c.scalar(key)
	if err != nil {
		return err
	}
	return setScalar(v, value)
}

// ApplyEnv applies the LOGSHIP_* variables of environ (os.Environ()): each
// scalar key outside lists is LOGSHIP_ and the upper snake case of its
// path, e.g. LOGSHIP_PIPELINE_MAX_BYTES=8MiB. An empty variable counts as
// unset. An unknown LOGSHIP_* variable is an error, because a misspelt
// override silently ignored is worse than none; LOGSHIP_CONFIG is allowed.
// OSS credentials come from OSS_ACCESS_KEY_ID etc., read by the oss sink.
func (c *Config) ApplyEnv(environ []string) error {
	byName := map[string]string{}
	var names []string
	for _, k := range scalarKeys() {
		byName[EnvName(k)] = k
		names = append(names, EnvName(k))
	}
	vars := slices.Clone(environ)
	slices.SortStableFunc(vars, func(a, b string) int {
		a, _, _ = strings.Cut(a, "=")
		b, _, _ = strings.Cut(b, "=")
		return strings.Compare(a, b)
	})
	var ps Problems
	for _, kv := range vars {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "LOGSHIP_") || slices.Contains(reservedEnv, name) {
			continue
		}
		key, ok := byName[name]
		if !ok {
			ps = append(ps, Problem{Origin: "$" + name,
				Msg: "unknown variable: every LOGSHIP_* variable is a config key" + schema.DidYouMean(name, append(names, reservedEnv...))})
			continue
		}
		if value == "" {
			continue
		}
		if err := c.set(key, value); err != nil {
			ps = append(ps, Problem{Origin: "$" + name, Path: key, Msg: err.Error()})
			continue
		}
		c.mark(key, position{origin: "$" + name})
	}
	return ps.Err()
}

// position is where a key was set.
type position struct {
	origin string // file name or $LOGSHIP_X
	line   int
}

// origin remembers where keys were set, so that Validate can say so.
type origin struct {
	file string              // the file the config came from
	pos  map[string]position // key path → where it was set
}

func (c *Config) mark(path string, p position) {
	if c.origin == nil {
		c.origin = &origin{}
	}
	if c.origin.pos == nil {
		c.origin.pos = map[string]position{}
	}
	c.origin.pos[path] = p
}

// where returns where path, or the nearest enclosing key, was set.
func (c *Config) where(path string) position {
	if c.origin == nil {
		return position{}
	}
	for path != "" {
		if p, ok := c.origin.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return position{}
}

// File returns the name of the file the config was read from, or "".
func (c *Config) File() string {
	if c.origin == nil {
		return ""
	}
	return c.origin.file
}
