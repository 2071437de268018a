package schedule

import (
	"strings"
	"testing"
	"time"
)

// FuzzParse checks that Parse never panics, that its errors point inside (or
// just past) the input, and that a valid schedule evaluates, in order and
// quickly, in zones with and without daylight saving time. The seed corpus
// runs with plain `go test`.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"cron(0 10 * * ? *)", "cron(0/15 * * * ? *)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(24 30 09 ? * * *)", "cron(0 2 ? * THU#3 *)", "cron(0 2 L * ? *)", "cron(15 10 ? * 6L *)",
		"cron(0 9 LW * ? *)", "cron(0 9 15W * ? *)", "cron(0 0 29 2 ? *)", "cron(0 0 30 2 ? *)",
		"cron(0 0 1 1 ? 2000)", "cron(0,55 1,3 * * ? *)", "cron(30 1,2 * * ? *)", "cron(59 59 23 31 12 ? 2199)",
		"rate(5 minutes)", "rate(1 hour)", "rate(100000 days)", "at(2026-12-01T10:00:00)", "at(2026-03-08T02:30:00)",
		"cron(0 0 * * ?)", "cron(0 0 ? * 3#1,6#3 *)", "rate(1 minutes)", "at(2026-02-30T10:00:00)",
		"cron(", "rate(", "at(", "(", ")", "cron(,,,)", "cron(0-0/0 */ L#W ? W# L)", "cron(1-/ - / * ? *)",
		"cron(0 0 ? * -1L *)", "cron(0 0 ? * #L *)", "cron(0 0 L- * ? *)", "cron(\x00 0 * * ? *)",
	} {
		f.Add(seed)
	}
	ny, err := LoadLocation("America/New_York")
	if err != nil {
		f.Fatal(err)
	}
	after := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, errs := Parse(expr)
		if errs != nil {
			if s != nil {
				t.Fatalf("Parse(%q) returned a schedule and errors", expr)
			}
			for _, e := range errs {
				if e.Offset < 0 || e.Length < 1 || e.Offset > len(expr) || e.Offset+e.Length > len(expr)+1 {
					t.Fatalf("Parse(%q): error %q has range %d+%d outside the input", expr, e.Message, e.Offset, e.Length)
				}
				if e.Message == "" {
					t.Fatalf("Parse(%q): empty message", expr)
				}
			}
			return
		}
		if s.String() != strings.TrimSpace(expr) {
			t.Fatalf("String() = %q for %q", s.String(), expr)
		}
		if s.Describe() == "" {
			t.Fatalf("Describe() is empty for %q", expr)
		}
		for _, loc := range []*time.Location{time.UTC, ny} {
			runs := s.Next(after, loc, 0, 20)
			prev := after
			for _, r := range runs {
				if !r.After(prev) {
					t.Fatalf("%q in %v: runs not increasing after %v: %v", expr, loc, after, runs)
				}
				prev = r
			}
			if s.Kind() == Cron {
				s.Next(after, loc, 6, 5)
				DSTAmbiguities(s, loc, after, 6, 2)
			}
			if d := s.MinInterval(loc); d < 0 || (s.Kind() == Rate && d < MinimumInterval) {
				t.Fatalf("%q in %v: MinInterval = %v", expr, loc, d)
			}
		}
	})
}
