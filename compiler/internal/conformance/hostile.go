package conformance

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// HostileFragments are substrings that would change the meaning of a shell
// command line if a parameter value carrying them were interpolated into
// it: quote breaking, a new command line, command substitution (both
// forms) and escapes.
var HostileFragments = []string{"'", "\n", "$(", "`", `\`}

// HostileStrings are whole values built from HostileFragments, shaped like
// real attacks.
var HostileStrings = []string{
	"'", "\n", "$(", "`", `\`,
	"x'; rm -rf / #",
	"x\nreboot",
	"$(reboot)",
	"`reboot`",
	`x\`,
	`\'`,
	"/srv/data'$(id)'",
	"/srv/data\n/etc",
	"i-0123456789abcdef0`id`",
	"abc\\\nrm -rf /",
	"'$(curl http://169.254.169.254/latest/meta-data/)'",
}

// ContainsHostile reports whether s contains one of HostileFragments.
func ContainsHostile(s string) bool {
	for _, f := range HostileFragments {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// SampleMatch returns a short string that re matches, derived from its
// syntax tree (first alternative, minimum repetitions, first character of
// each class), or false when the derived string does not match (word
// boundaries and similar assertions can defeat the construction).
func SampleMatch(re *regexp.Regexp) (string, bool) {
	tree, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	sample(&b, tree.Simplify())
	s := b.String()
	return s, re.MatchString(s)
}

func sample(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		if len(re.Rune) > 0 {
			b.WriteRune(pickFromClass(re.Rune))
		}
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		b.WriteByte('a')
	case syntax.OpCapture:
		sample(b, re.Sub[0])
	case syntax.OpPlus:
		sample(b, re.Sub[0])
	case syntax.OpRepeat:
		for i := 0; i < re.Min; i++ {
			sample(b, re.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			sample(b, s)
		}
	case syntax.OpAlternate:
		sample(b, re.Sub[0])
	}
	// OpStar, OpQuest, OpEmptyMatch and the assertions add nothing.
}

// pickFromClass prefers a letter or digit from the class so that samples
// read naturally; otherwise it takes the first rune of the first range.
func pickFromClass(ranges []rune) rune {
	for _, want := range []rune{'a', 'A', '0', '/', '-', '_', '.'} {
		for i := 0; i+1 < len(ranges); i += 2 {
			if ranges[i] <= want && want <= ranges[i+1] {
				return want
			}
		}
	}
	return ranges[0]
}

// HostileVariants derives strings from a value the pattern accepts: each
// hostile fragment inserted at every position, appended, prepended, and
// replacing the whole value.
func HostileVariants(accepted string) []string {
	var out []string
	positions := []int{0}
	for i := range accepted {
		if i > 0 {
			positions = append(positions, i)
		}
	}
	positions = append(positions, len(accepted))
	for _, f := range HostileFragments {
		for _, p := range positions {
			out = append(out, accepted[:p]+f+accepted[p:])
		}
	}
	out = append(out, HostileStrings...)
	for _, h := range HostileStrings {
		out = append(out, accepted+h, h+accepted)
	}
	return out
}

// RejectsHostile checks that no hostile variant of accepted (nor any of
// HostileStrings) satisfies accept, and returns the ones that do.
func RejectsHostile(accepted string, accept func(string) bool) []string {
	var bad []string
	for _, s := range HostileVariants(accepted) {
		if !utf8.ValidString(s) {
			continue
		}
		if ContainsHostile(s) && accept(s) {
			bad = append(bad, fmt.Sprintf("%q", s))
		}
	}
	return bad
}
