package documents

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

var hostileWords = []string{
	"",
	"plain",
	"it's",
	"'",
	"''",
	`'\''`,
	`\`,
	`\'`,
	`"`,
	`"'"'"`,
	"$(touch /tmp/ssmb-shellquote-pwned)",
	"`touch /tmp/ssmb-shellquote-pwned`",
	"${HOME}",
	"$HOME",
	"$((1+1))",
	"a b\tc",
	"line\nbreak",
	"\r\n",
	"; rm -rf / #",
	"&& echo pwned || echo pwned",
	"| cat",
	"> /tmp/ssmb-shellquote-pwned",
	"*",
	"?",
	"[a-z]",
	"~",
	"~root",
	"-n",
	"--",
	"!",
	"!!",
	"{a,b}",
	"#comment",
	"%s%n",
	"é ü 日本",
	"\x01\x1b[31m\x7f",
	strings.Repeat("'", 100),
	strings.Repeat("x'y", 1000),
}

func TestShellQuoteForm(t *testing.T) {
	for in, want := range map[string]string{
		"":      `''`,
		"plain": `'plain'`,
		"it's":  `'it'\''s'`,
		"'":     `''\'''`,
		"$HOME": `'$HOME'`,
	} {
		if got := ShellQuote(in); got != want {
			t.Errorf("ShellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestShellQuoteRoundTrip pastes the quoted word into a command line, as a
// generator would, and checks that every POSIX shell here reads back exactly
// the original bytes as one argument.
func TestShellQuoteRoundTrip(t *testing.T) {
	shells := availableShells(t)
	for _, sh := range shells {
		for _, w := range hostileWords {
			assertShellReadsBack(t, sh, w)
		}
	}
	if _, err := os.Stat("/tmp/ssmb-shellquote-pwned"); err == nil {
		t.Errorf("a quoted word ran a command: /tmp/ssmb-shellquote-pwned exists")
	}
}

func FuzzShellQuote(f *testing.F) {
	for _, w := range hostileWords {
		f.Add(w)
	}
	shells := availableShells(f)
	f.Fuzz(func(t *testing.T, w string) {
		if strings.IndexByte(w, 0) >= 0 {
			t.Skip("a NUL byte cannot be part of an argument")
		}
		assertShellReadsBack(t, shells[0], w)
	})
}

func availableShells(tb testing.TB) []string {
	tb.Helper()
	var shells []string
	for _, sh := range []string{"sh", "dash", "bash"} {
		if _, err := exec.LookPath(sh); err == nil {
			shells = append(shells, sh)
		}
	}
	if len(shells) == 0 {
		missingPrerequisite(tb, "no POSIX shell (sh, dash, bash)")
	}
	return shells
}

// assertShellReadsBack pastes the quoted word into a script and checks that
// the shell reads it as exactly one argument holding exactly the word.
func assertShellReadsBack(t *testing.T, sh, w string) {
	t.Helper()
	// set -- <word> makes the word the only positional parameter; printing
	// $# proves it stayed one word, "$1" proves its bytes survived.
	script := "set -- " + ShellQuote(w) + "\nprintf '%s|' \"$#\"\nprintf '%s' \"$1\""
	out, err := exec.Command(sh, "-c", script).Output()
	if err != nil {
		t.Fatalf("%s -c %q: %v", sh, script, err)
	}
	if want := "1|" + w; string(out) != want {
		t.Errorf("%s read back %q, want %q (quoted: %s)", sh, out, want, ShellQuote(w))
	}
}
