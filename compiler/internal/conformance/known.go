package conformance

import (
	"strconv"
	"strings"
)

// KnownFinding describes a validation error that a dated reference reports
// for a value AWS accepts. Every entry says why it is not a defect of the
// generated output.
type KnownFinding struct {
	// Pointer is the JSON pointer of the value; a "*" token matches any
	// single token (such as a step index).
	Pointer string
	// Keyword, when set, must be a suffix of Finding.Keyword
	// ("/additionalProperties").
	Keyword string
	// Contains, when set, must occur in Finding.Message.
	Contains string
	// Value, when set, must be the string the instance holds at the
	// finding's pointer, so that an entry for one accepted value does not
	// also excuse others.
	Value string
	// Reason says why AWS accepts the value although the reference does not.
	Reason string
}

// Matches reports whether f, found in instance, is this known finding.
func (k KnownFinding) Matches(instance any, f Finding) bool {
	if !pointerMatches(k.Pointer, f.Pointer) || !strings.HasSuffix(f.Keyword, k.Keyword) || !strings.Contains(f.Message, k.Contains) {
		return false
	}
	if k.Value == "" {
		return true
	}
	v, ok := valueAt(instance, f.Pointer)
	return ok && v == k.Value
}

// valueAt returns the value at a JSON pointer inside a decoded value.
func valueAt(v any, pointer string) (any, bool) {
	if pointer == "" {
		return v, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(pointer, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(t) {
				return nil, false
			}
			v = t[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func pointerMatches(pattern, p string) bool {
	pt := strings.Split(pattern, "/")
	vt := strings.Split(p, "/")
	if len(pt) != len(vt) {
		return false
	}
	for i := range pt {
		if pt[i] != "*" && pt[i] != vt[i] {
			return false
		}
	}
	return true
}

// Triage separates the findings of instance into the unexpected ones and
// those on the known list. hits[i] counts the findings that matched
// known[i], so a caller can fail when an entry no longer matches anything.
func Triage(instance any, findings []Finding, known []KnownFinding, hits []int) (unexpected []Finding) {
	for _, f := range findings {
		matched := false
		for i, k := range known {
			if k.Matches(instance, f) {
				hits[i]++
				matched = true
				break
			}
		}
		if !matched {
			unexpected = append(unexpected, f)
		}
	}
	return unexpected
}
