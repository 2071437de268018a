package conformance

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Model is a botocore service model (service-2.json). It is a JSON model,
// not a JSON Schema: each shape has a type and, depending on it, members,
// required members, min/max (length of strings and lists, entries of maps,
// value of numbers), a pattern and an enum.
type Model struct {
	Metadata struct {
		// EndpointPrefix names the service: ssm, dlm, backup.
		EndpointPrefix string `json:"endpointPrefix"`
	} `json:"metadata"`
	Shapes map[string]*Shape `json:"shapes"`

	mu       sync.Mutex
	patterns map[string]*patternCheck
	notes    map[string]int
}

// Shape is one botocore shape.
type Shape struct {
	Type     string              `json:"type"`
	Required []string            `json:"required"`
	Members  map[string]ShapeRef `json:"members"`
	Member   *ShapeRef           `json:"member"`
	Key      *ShapeRef           `json:"key"`
	Value    *ShapeRef           `json:"value"`
	Min      *json.Number        `json:"min"`
	Max      *json.Number        `json:"max"`
	Pattern  string              `json:"pattern"`
	Enum     []string            `json:"enum"`
	Union    bool                `json:"union"`
}

// ShapeRef names the shape of a member.
type ShapeRef struct {
	Shape string `json:"shape"`
}

// LoadModel reads a botocore service-2.json.
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Shapes) == 0 {
		return nil, fmt.Errorf("%s: no shapes", path)
	}
	return &m, nil
}

// Problem is one way a value breaks a shape's constraints.
type Problem struct {
	// Path locates the value: Member.List[2].Key.
	Path    string
	Message string
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Check walks v (as decoded by DecodeJSON, or with float64 numbers) against
// the named shape and returns every violation, sorted by path. root names
// the value in the paths of the problems.
func (m *Model) Check(shape, root string, v any) []Problem {
	var out []Problem
	m.check(root, shape, v, &out)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func (m *Model) check(path, name string, v any, out *[]Problem) {
	add := func(format string, args ...any) {
		*out = append(*out, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	s, ok := m.Shapes[name]
	if !ok {
		add("the model has no shape %q", name)
		return
	}
	switch s.Type {
	case "structure":
		obj, ok := v.(map[string]any)
		if !ok {
			add("%s must be an object (shape %s), got %s", s.Type, name, jsonKind(v))
			return
		}
		for _, k := range sortedKeys(obj) {
			ref, known := s.Members[k]
			if !known {
				add("unknown member %q of %s (members: %s)", k, name, strings.Join(sortedKeys(s.Members), ", "))
				continue
			}
			m.check(path+"."+k, ref.Shape, obj[k], out)
		}
		for _, r := range s.Required {
			if _, ok := obj[r]; !ok {
				add("required member %q of %s is missing", r, name)
			}
		}
		if s.Union && len(obj) != 1 {
			add("%s is a union: exactly one member must be set, got %d", name, len(obj))
		}
	case "list":
		list, ok := v.([]any)
		if !ok {
			add("list must be an array (shape %s), got %s", name, jsonKind(v))
			return
		}
		checkBounds(add, "length", int64(len(list)), s)
		for i, item := range list {
			m.check(fmt.Sprintf("%s[%d]", path, i), s.Member.Shape, item, out)
		}
	case "map":
		obj, ok := v.(map[string]any)
		if !ok {
			add("map must be an object (shape %s), got %s", name, jsonKind(v))
			return
		}
		checkBounds(add, "number of entries", int64(len(obj)), s)
		for _, k := range sortedKeys(obj) {
			m.check(fmt.Sprintf("%s{%q}", path, k), s.Key.Shape, k, out)
			m.check(fmt.Sprintf("%s[%q]", path, k), s.Value.Shape, obj[k], out)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			add("string expected (shape %s), got %s", name, jsonKind(v))
			return
		}
		// Smithy's length trait counts Unicode code points.
		checkBounds(add, "length", int64(utf8.RuneCountInString(str)), s)
		if len(s.Enum) > 0 && !contains(s.Enum, str) {
			add("%q is not one of %s (shape %s)", str, strings.Join(s.Enum, ", "), name)
		}
		if s.Pattern != "" {
			pc := m.pattern(s.Pattern)
			switch {
			case pc.err != nil:
				add("pattern %q of shape %s: %v", s.Pattern, name, pc.err)
			case pc.skip != "":
				m.note(fmt.Sprintf("skipped pattern of %s: %s", name, pc.skip))
			default:
				if pc.translated != "" {
					m.note(fmt.Sprintf("translated pattern of %s: %s", name, pc.translated))
				}
				if !pc.match(str) {
					add("%q does not match pattern %s (shape %s)", str, s.Pattern, name)
				}
			}
		}
	case "integer", "long":
		n, ok := number(v)
		if !ok || !n.IsInt() {
			add("integer expected (shape %s), got %s", name, jsonKind(v))
			return
		}
		checkRatBounds(add, n, s)
	case "double", "float":
		n, ok := number(v)
		if !ok {
			add("number expected (shape %s), got %s", name, jsonKind(v))
			return
		}
		checkRatBounds(add, n, s)
	case "boolean":
		if _, ok := v.(bool); !ok {
			add("boolean expected (shape %s), got %s", name, jsonKind(v))
		}
	case "blob":
		if _, ok := v.(string); !ok {
			add("blob expected as a string (shape %s), got %s", name, jsonKind(v))
		}
	case "timestamp":
		if _, ok := v.(string); !ok {
			if _, ok := number(v); !ok {
				add("timestamp expected (shape %s), got %s", name, jsonKind(v))
			}
		}
	default:
		add("shape %s has type %q, which this checker does not know", name, s.Type)
	}
}

func checkBounds(add func(string, ...any), what string, n int64, s *Shape) {
	if s.Min != nil {
		if min, err := s.Min.Int64(); err == nil && n < min {
			add("%s %d is below the minimum %d", what, n, min)
		}
	}
	if s.Max != nil {
		if max, err := s.Max.Int64(); err == nil && n > max {
			add("%s %d is above the maximum %d", what, n, max)
		}
	}
}

func checkRatBounds(add func(string, ...any), n *big.Rat, s *Shape) {
	if s.Min != nil {
		if min, ok := new(big.Rat).SetString(string(*s.Min)); ok && n.Cmp(min) < 0 {
			add("value %s is below the minimum %s", n.RatString(), *s.Min)
		}
	}
	if s.Max != nil {
		if max, ok := new(big.Rat).SetString(string(*s.Max)); ok && n.Cmp(max) > 0 {
			add("value %s is above the maximum %s", n.RatString(), *s.Max)
		}
	}
}

func number(v any) (*big.Rat, bool) {
	switch n := v.(type) {
	case json.Number:
		return new(big.Rat).SetString(string(n))
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(n) == nil {
			return nil, false
		}
		return r, true
	case int:
		return new(big.Rat).SetInt64(int64(n)), true
	case int64:
		return new(big.Rat).SetInt64(n), true
	}
	return nil, false
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, int, int64:
		return fmt.Sprintf("the number %v", v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// patternCheck is a compiled botocore pattern. Patterns are ECMAScript
// regular expressions (Smithy's pattern trait) and, like JSON Schema's,
// match anywhere in the string unless anchored.
type patternCheck struct {
	match      func(string) bool
	translated string // how an RE2-incompatible pattern was translated
	skip       string // why an untranslatable pattern is not enforced
	err        error
}

func (m *Model) pattern(p string) *patternCheck {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.patterns == nil {
		m.patterns = map[string]*patternCheck{}
	}
	if pc, ok := m.patterns[p]; ok {
		return pc
	}
	pc := compilePattern(p)
	m.patterns[p] = pc
	return pc
}

func compilePattern(p string) *patternCheck {
	if re, err := regexp.Compile(p); err == nil {
		return &patternCheck{match: re.MatchString}
	} else if sub, ok := re2Substitutes[p]; ok {
		if sub.skip != "" {
			return &patternCheck{skip: sub.skip}
		}
		return &patternCheck{match: sub.match, translated: sub.translation}
	} else {
		return &patternCheck{err: fmt.Errorf("Go's regexp cannot compile it (%v) and it has no documented translation", err)}
	}
}

func (m *Model) note(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notes == nil {
		m.notes = map[string]int{}
	}
	m.notes[s]++
}

// PatternNotes lists, with counts, every RE2-incompatible pattern that a
// Check translated or skipped.
func (m *Model) PatternNotes() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, k := range sortedKeys(m.notes) {
		out = append(out, fmt.Sprintf("%s (%d values)", k, m.notes[k]))
	}
	return out
}

// CheckPatterns reports every pattern of the model that Go's regexp cannot
// compile and that re2Substitutes does not cover, and every substitute whose
// pattern is no longer in the model, so the table stays exact.
func (m *Model) CheckPatterns() []error {
	var errs []error
	seen := map[string]bool{}
	for _, name := range sortedKeys(m.Shapes) {
		p := m.Shapes[name].Pattern
		if p == "" {
			continue
		}
		seen[p] = true
		if _, err := regexp.Compile(p); err != nil {
			if _, ok := re2Substitutes[p]; !ok {
				errs = append(errs, fmt.Errorf("shape %s: pattern %q does not compile in Go (%v) and has no entry in re2Substitutes", name, p, err))
			}
		}
	}
	for _, p := range sortedKeys(re2Substitutes) {
		if !slices.Contains(re2Substitutes[p].services, m.Metadata.EndpointPrefix) {
			continue // another service's pattern
		}
		if !seen[p] {
			errs = append(errs, fmt.Errorf("re2Substitutes has %q, which no shape of the model uses any more", p))
		} else if _, err := regexp.Compile(p); err == nil {
			errs = append(errs, fmt.Errorf("re2Substitutes has %q, which Go's regexp compiles; drop the entry", p))
		}
	}
	return errs
}

type patternSubstitute struct {
	// services are the models (endpoint prefixes) that use the pattern.
	services    []string
	translation string
	match       func(string) bool
	skip        string
}

// ecmaSpace is ECMAScript's \s (WhiteSpace and LineTerminator), written as
// an RE2 class; RE2's own \s is ASCII only.
const ecmaSpace = `[\t\n\x{0B}\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}]`

// ecmaDot is ECMAScript's "." without the s flag: anything but a line terminator.
const ecmaDot = `[^\n\r\x{2028}\x{2029}]`

var (
	reAllSpace     = regexp.MustCompile(`^` + ecmaSpace + `*$`)
	reStartsDot    = regexp.MustCompile(`^` + ecmaDot)
	reAllDot       = regexp.MustCompile(`^` + ecmaDot + `+$`)
	reBackupTagKey = regexp.MustCompile(`^[a-zA-Z+-=._:/]+$`)
	reS3URLPrefix  = regexp.MustCompile(`^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{1,253}\.s3(\.[a-z\d-]{9,16})?\.amazonaws\.com\/` + ecmaDot)
)

// re2Substitutes covers the botocore patterns that Go's RE2 cannot compile
// (SOURCES.md caveat 4: lookahead, repeat counts above 1000). Each is either
// translated into an equivalent check or skipped with the reason; CheckPatterns
// keeps this table in step with the model.
var re2Substitutes = map[string]patternSubstitute{
	// AlarmName and a dozen OpsItem/metadata shapes: "not blank".
	`^(?!\s*$).+`: {
		services:    []string{"ssm"},
		translation: `^(?!\s*$).+ as: not only ECMAScript white space, and the first character is not a line terminator`,
		match: func(s string) bool {
			return !reAllSpace.MatchString(s) && reStartsDot.MatchString(s)
		},
	},
	// InstancePropertyFilterValue, InstancePropertyStringFilterKey.
	`^.{1,100000}$`: {
		services:    []string{"ssm"},
		translation: `^.{1,100000}$ as: 1 to 100000 characters, none a line terminator`,
		match: func(s string) bool {
			return reAllDot.MatchString(s) && utf8.RuneCountInString(s) <= 100000
		},
	},
	// TargetLocationsURL: the trailing .{1,2000} is not anchored, so one
	// character after the slash is exactly as strict.
	`^https:\/\/[-a-zA-Z0-9@:%._\+~#=]{1,253}\.s3(\.[a-z\d-]{9,16})?\.amazonaws\.com\/.{1,2000}`: {
		services:    []string{"ssm"},
		translation: `TargetLocationsURL's trailing unanchored .{1,2000} as a single "."`,
		match:       reS3URLPrefix.MatchString,
	},
	// StringDateTime (ISO 8601): lookaheads and backreferences (\3, \17)
	// have no RE2 form; no maintenance-window input uses this shape.
	`^([\-]?\d{4}(?!\d{2}\b))((-?)((0[1-9]|1[0-2])(\3([12]\d|0[1-9]|3[01]))?|W([0-4]\d|5[0-2])(-?[1-7])?|(00[1-9]|0[1-9]\d|[12]\d{2}|3([0-5]\d|6[1-6])))([T\s]((([01]\d|2[0-3])((:?)[0-5]\d)?|24\:?00)([\.,]\d(?!:))?)?(\17[0-5]\d([\.,]\d)?)?([zZ]|([\-])([01]\d|2[0-3]):?([0-5]\d)?)?)?)?$`: {
		services: []string{"ssm"},
		skip:     "StringDateTime's ISO 8601 pattern needs lookahead and backreferences, which RE2 lacks; not enforced",
	},
	// Data Lifecycle Manager's resource tag keys: not starting with "aws:", then the class
	// (whose "+-=" is the range from "+" to "=", as in RE2).
	`^(?!aws:)[a-zA-Z+-=._:/]+$`: {
		services:    []string{"dlm"},
		translation: `^(?!aws:)[a-zA-Z+-=._:/]+$ as: does not start with "aws:", and ^[a-zA-Z+-=._:/]+$`,
		match: func(s string) bool {
			return !strings.HasPrefix(s, "aws:") && reBackupTagKey.MatchString(s)
		},
	},
	// Data Lifecycle Manager's tag keys and values: "\p{all}" is no Unicode
	// property of ECMAScript or Java; the class stands for any character,
	// so the pattern accepts every string (the length limits still apply).
	`[\p{all}]*`: {
		services:    []string{"dlm"},
		translation: `[\p{all}]* as: any string`,
		match:       func(string) bool { return true },
	},
}

// SubstituteNotes says, for each botocore pattern Go's regexp cannot
// compile, whether it is translated (and how) or skipped (and why).
func SubstituteNotes() []string {
	var out []string
	for _, p := range sortedKeys(re2Substitutes) {
		sub := re2Substitutes[p]
		if sub.skip != "" {
			out = append(out, "skipped: "+sub.skip)
		} else {
			out = append(out, "translated: "+sub.translation)
		}
	}
	return out
}
