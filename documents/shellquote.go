package documents

import "strings"

// ShellQuote quotes s for POSIX sh as a single word: s in single quotes, each
// single quote in s replaced by a closing quote, a backslash-escaped quote and
// an opening quote:
//
//	it's  →  'it'\''s'
//
// Nothing is special inside single quotes, so the shell reads the word as s
// byte for byte, whatever s holds. A NUL byte cannot reach a program as an
// argument at all; callers must not pass one.
func ShellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
