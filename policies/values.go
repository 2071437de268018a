package policies

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/invopop/jsonschema"
	"gopkg.in/yaml.v3"
)

// Duration is a length of time written as a number and a unit: 10s, 5m, 2h,
// 30d, 2w, or a sum such as 1h30m. Days are 24 hours; there are no months or
// years, which have no fixed length.
type Duration struct {
	Value time.Duration
	Text  string
}

var durationTerm = regexp.MustCompile(`([0-9]+)([smhdw])`)

// durationPattern is the whole-string form, also published in the schema.
const durationPattern = `^([0-9]+[smhdw])+$`

var durationRE = regexp.MustCompile(durationPattern)

// ParseDuration reads the policy duration syntax.
func ParseDuration(s string) (Duration, error) {
	if !durationRE.MatchString(s) {
		return Duration{}, fmt.Errorf("%q is not a duration: write a number and a unit, e.g. 10s, 5m, 2h, 30d or 2w", s)
	}
	var total time.Duration
	for _, m := range durationTerm.FindAllStringSubmatch(s, -1) {
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > 1<<31 {
			return Duration{}, fmt.Errorf("%q is too long", s)
		}
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		term := time.Duration(n) * unit
		if term/unit != time.Duration(n) || total+term < total {
			return Duration{}, fmt.Errorf("%q is too long", s)
		}
		total += term
	}
	return Duration{Value: total, Text: s}, nil
}

// MustDuration parses a duration known to be valid (defaults, tests).
func MustDuration(s string) Duration {
	d, err := ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func (d Duration) String() string { return d.Text }

// MarshalJSON writes the duration as it was written.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(d.Text)), nil }

// MarshalYAML writes the duration as it was written.
func (d Duration) MarshalYAML() (any, error) { return d.Text, nil }

// JSONSchema describes the duration syntax to editors.
func (Duration) JSONSchema() *jsonschema.Schema {
	// Examples and the description come from each field's tags.
	return &jsonschema.Schema{
		Type:    "string",
		Pattern: durationPattern,
	}
}

func (d *Duration) decodeNode(n *yaml.Node, dec *decoder, path string) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		dec.typeError(n, path, "a duration such as 10s, 2h or 30d")
		return
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		dec.valueError(n, path, "%s: %s", fieldName(path), err.Error())
		return
	}
	*d = v
}

// StringList is one string or a list of strings.
type StringList []string

// JSONSchema allows a string or a list of strings.
func (StringList) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{
		OneOf: []*jsonschema.Schema{
			{Type: "string", MinLength: uint64Ptr(1), MaxLength: uint64Ptr(256)},
			{Type: "array", Items: &jsonschema.Schema{Type: "string", MinLength: uint64Ptr(1), MaxLength: uint64Ptr(256)}, MinItems: uint64Ptr(1), MaxItems: uint64Ptr(50)},
		},
	}
}

func uint64Ptr(v uint64) *uint64 { return &v }

func (l *StringList) decodeNode(n *yaml.Node, dec *decoder, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			dec.typeError(n, path, "a string or a list of strings")
			return
		}
		*l = StringList{n.Value}
	case yaml.SequenceNode:
		out := StringList{}
		for i, item := range n.Content {
			item = dec.resolve(item)
			p := fmt.Sprintf("%s[%d]", path, i)
			dec.record(item, p)
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				dec.typeError(item, p, "a string")
				dec.src.failed[path] = true
				continue
			}
			out = append(out, item.Value)
		}
		*l = out
	default:
		dec.typeError(n, path, "a string or a list of strings")
	}
}

// Defaults the compiler relies on; validate.go checks the values given.
var (
	DefaultMaxFreeze = MustDuration("10s")
	// DefaultDLMMaxFreeze is the budget of a policy run by Data Lifecycle
	// Manager: its hold lasts from the pre-script until the post-script
	// arrives, two Systems Manager command round trips and DLM's own
	// CreateSnapshots call, which take longer than the on-instance
	// script of the ssm engine; 30s still leaves the pre-script room for
	// its applications within DLM's 120 s script timeout
	// (documents.LinuxDLMHooksCommand).
	DefaultDLMMaxFreeze    = MustDuration("30s")
	DefaultWindowDuration  = MustDuration("2h")
	DefaultWindowCutoff    = MustDuration("0h")
	DefaultLockWaitTimeout = MustDuration("5s")
)

const (
	DefaultTimezone       = "UTC"
	DefaultMaxConcurrency = "1"
	DefaultMaxErrors      = "1"
)

// TimezoneOrDefault returns the schedule's time zone, UTC when unset.
func (s Schedule) TimezoneOrDefault() string {
	if s.Timezone == "" {
		return DefaultTimezone
	}
	return s.Timezone
}

// DurationOrDefault returns the window duration, 2h when unset.
func (w Window) DurationOrDefault() Duration { return orDefault(w.Duration, DefaultWindowDuration) }

// CutoffOrDefault returns the window cutoff, 0h when unset.
func (w Window) CutoffOrDefault() Duration { return orDefault(w.Cutoff, DefaultWindowCutoff) }

// MaxConcurrencyOrDefault returns maxConcurrency, "1" when unset.
func (s Schedule) MaxConcurrencyOrDefault() string {
	return strings.TrimSpace(orDefaultString(s.MaxConcurrency, DefaultMaxConcurrency))
}

// MaxErrorsOrDefault returns maxErrors, "1" when unset.
func (s Schedule) MaxErrorsOrDefault() string {
	return strings.TrimSpace(orDefaultString(s.MaxErrors, DefaultMaxErrors))
}

// VolumesOrDefault returns the volume selection, all when unset.
func (s Spec) VolumesOrDefault() VolumeSelection {
	if s.Volumes == "" {
		return AllVolumes
	}
	return s.Volumes
}

// MaxFreezeOrDefault returns the freeze budget when unset: 10s, or 30s for
// engine dlm.
func (s Spec) MaxFreezeOrDefault() Duration {
	if s.Engine == EngineDLM {
		return orDefault(s.MaxFreeze, DefaultDLMMaxFreeze)
	}
	return orDefault(s.MaxFreeze, DefaultMaxFreeze)
}

func orDefault(d *Duration, def Duration) Duration {
	if d == nil {
		return def
	}
	return *d
}

func orDefaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
