package conformance

import (
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TranslateECMAScript rewrites the one ECMAScript escape that the reference
// schemas use and RE2 lacks, \uXXXX (as in "^[\u0009\u000A\u000D\u0020-\u00FF]+$"
// of the CloudFormation IAM schemas and cfn-lint's IAM policy schemas), into
// RE2's \x{XXXX}. Every other byte is copied unchanged; an escaped backslash
// followed by "u" ("\\u0041") is left alone.
//
// The two dialects differ in other corners that these files do not use (\s
// in ECMAScript also matches Unicode spaces; "." also excludes \r). Patterns
// that need lookaround or backreferences do not compile after translation
// and are reported as errors by the caller, never silently accepted.
func TranslateECMAScript(p string) string {
	if !strings.Contains(p, `\u`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '\\' || i+1 >= len(p) {
			b.WriteByte(c)
			continue
		}
		if p[i+1] == 'u' && i+6 <= len(p) && isHex(p[i+2:i+6]) {
			b.WriteString(`\x{` + p[i+2:i+6] + `}`)
			i += 5
			continue
		}
		// Any other escape, including "\\", is copied as a pair so that
		// the byte after it is never taken for the start of an escape.
		b.WriteByte(c)
		b.WriteByte(p[i+1])
		i++
	}
	return b.String()
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// RE2Engine is a jsonschema.RegexpEngine that compiles a schema's pattern
// with Go's regexp after TranslateECMAScript. Like every JSON Schema
// pattern, the result matches anywhere in the string unless anchored.
func RE2Engine(pattern string) (jsonschema.Regexp, error) {
	return regexp.Compile(TranslateECMAScript(pattern))
}
