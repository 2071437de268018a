package conformance

import (
	"regexp"
	"testing"
)

func TestSampleMatch(t *testing.T) {
	for _, p := range []string{
		`^[a-z0-9-]{1,64}$`,
		`^(/[A-Za-z0-9._-]+)+$`,
		`^i-([0-9a-f]{8}|[0-9a-f]{17})$`,
		`^[0-9]+$`,
		`^(crash|filesystem)$`,
		`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$`,
	} {
		re := regexp.MustCompile(p)
		s, ok := SampleMatch(re)
		if !ok {
			t.Errorf("%s: derived %q, which does not match", p, s)
		}
	}
}

// TestRejectsHostileCanFail proves the hostile-input check catches
// permissive patterns, so a pass on the generated documents means something.
func TestRejectsHostileCanFail(t *testing.T) {
	permissive := map[string]string{
		"anything":          `^.*$`,
		"unanchored":        `[a-z]+`,
		"quote allowed":     `^[a-z']+$`,
		"newline allowed":   `^[a-z\n]+$`,
		"dollar and parens": `^[a-z$()]+$`,
		"backtick":          "^[a-z`]+$",
		"backslash":         `^[a-z\\]+$`,
		"multiline anchors": `(?m)^[a-z]+$`,
	}
	for name, p := range permissive {
		re := regexp.MustCompile(p)
		s, ok := SampleMatch(re)
		if !ok {
			s = "a"
		}
		if bad := RejectsHostile(s, re.MatchString); len(bad) == 0 {
			t.Errorf("%s (%s): no hostile value accepted; the check is blind", name, p)
		}
	}
	strict := regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
	if bad := RejectsHostile("/srv/data", strict.MatchString); len(bad) != 0 {
		t.Errorf("strict path pattern accepted %v", bad)
	}
}
