package conformance

import "strings"

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
	// Reason says why AWS accepts the value although the reference does not.
	Reason string
}

// Matches reports whether f is this known finding.
func (k KnownFinding) Matches(f Finding) bool {
	return pointerMatches(k.Pointer, f.Pointer) &&
		strings.HasSuffix(f.Keyword, k.Keyword) &&
		strings.Contains(f.Message, k.Contains)
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

// Triage separates findings into the unexpected ones and those on the
// known list. hits[i] counts the findings that matched known[i], so a
// caller can fail when an entry no longer matches anything.
func Triage(findings []Finding, known []KnownFinding, hits []int) (unexpected []Finding) {
	for _, f := range findings {
		matched := false
		for i, k := range known {
			if k.Matches(f) {
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
