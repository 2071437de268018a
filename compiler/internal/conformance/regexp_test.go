package conformance

import (
	"regexp"
	"testing"
)

func TestTranslateECMAScript(t *testing.T) {
	cases := []struct{ in, want string }{
		{`^[a-z]+$`, `^[a-z]+$`},
		{`^[\u0009\u000A\u000D\u0020-\u00FF]+$`, `^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`},
		{`^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$`, `^(\x{002F})|(\x{002F}[\x{0021}-\x{007E}]+\x{002F})$`},
		// An escaped backslash followed by "u" is a literal backslash and u.
		{`\\u0041`, `\\u0041`},
		// Not four hex digits: left alone (and rejected by RE2 later).
		{`\u00G1`, `\u00G1`},
		{`\p{L}\u0041`, `\p{L}\x{0041}`},
	}
	for _, c := range cases {
		if got := TranslateECMAScript(c.in); got != c.want {
			t.Errorf("TranslateECMAScript(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestRE2EngineMatchesLikeECMAScript proves the translated IAM patterns
// accept and reject what the ECMAScript originals do.
func TestRE2EngineMatchesLikeECMAScript(t *testing.T) {
	cases := []struct {
		pattern string
		in      string
		want    bool
	}{
		{`^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$`, "/ssm-backup/", true},
		{`^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$`, "/", true},
		{`^(\u002F)|(\u002F[\u0021-\u007E]+\u002F)$`, "ssm-backup", false},
		{`^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$`, "Snapshots, tagged: ok", true},
		{`^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$`, "em dash — not Latin-1", false},
		{`^[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*$`, "\x7f", false},
	}
	for _, c := range cases {
		re, err := RE2Engine(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := re.MatchString(c.in); got != c.want {
			t.Errorf("%s on %q = %v, want %v", c.pattern, c.in, got, c.want)
		}
	}
	if _, err := regexp.Compile(`^[\u0009]$`); err == nil {
		t.Fatal(`Go's regexp now accepts \u escapes; the translation may be obsolete`)
	}
}
