package schedule

import (
	"strings"
	"testing"
)

// Every expression shown in AWS's "Reference: Cron and rate expressions for
// Systems Manager" (current text and earlier revisions of the page, from the
// awsdocs/aws-systems-manager-user-guide repository), plus the maintenance
// window examples of "Maintenance window scheduling and active period
// options". Maintenance windows "support all cron and rate expressions", so
// the association examples must parse too.
func TestParseAWSExamples(t *testing.T) {
	tests := []struct {
		expr string
		kind Kind
	}{
		// "Cron expression examples" table (general section).
		{"cron(0 10 * * ? *)", Cron},
		{"cron(15 12 * * ? *)", Cron},
		{"cron(0 18 ? * MON-FRI *)", Cron},
		{"cron(0 8 1 * ? *)", Cron},
		{"cron(0/15 * * * ? *)", Cron},
		{"cron(0/10 * ? * MON-FRI *)", Cron},
		{"cron(0/5 8-17 ? * MON-FRI *)", Cron},
		// "Cron and rate expressions for maintenance windows".
		{"cron(30 09 ? * * *)", Cron},
		{"cron(24 30 09 ? * * *)", Cron},
		{"cron(0 2 ? * THU#3 *)", Cron},
		{"cron(15 10 ? * * *)", Cron},
		{"cron(15 10 ? * MON-FRI *)", Cron},
		{"cron(0 2 L * ? *)", Cron},
		{"cron(15 10 ? * 6L *)", Cron},
		{"rate(30 minutes)", Rate},
		{"rate(1 hour)", Rate},
		{"rate(5 hours)", Rate},
		{"rate(25 days)", Rate},
		// AWS CLI examples for maintenance windows.
		{"cron(0 16 ? * TUE *)", Cron},
		{"cron(30 23 ? * TUE#3 *)", Cron},
		{"rate(7 days)", Rate},
		{"at(2021-07-07T13:15:30)", At},
		{"at(2019-07-07T13:15:30)", At},
		{"at(2020-07-07T15:55:00)", At},
		{"rate(2 days)", Rate},
		// Association examples.
		{"cron(0/30 * * * ? *)", Cron},
		{"cron(0 0/1 * * ? *)", Cron},
		{"cron(0 0/2 * * ? *)", Cron},
		{"cron(0 0/4 * * ? *)", Cron},
		{"cron(0 0/8 * * ? *)", Cron},
		{"cron(0 0/12 * * ? *)", Cron},
		{"cron(15 13 ? * * *)", Cron},
		{"cron(15 13 ? * MON *)", Cron},
		{"cron(0 */30 * * * ? *)", Cron},
		{"cron(0 0 ? * THU#2 *)", Cron},
		{"cron(0 0 ? * 3L *)", Cron},
		{"cron(0 0 2 ? * SUN *)", Cron},
		{"cron(0 2 ? * SUN *)", Cron},
		{"rate(15 days)", Rate},
		// "Maintenance window scheduling and active period options".
		{"cron(0 09 ? * WED *)", Cron},
		{"cron(0 09 ? * FRI *)", Cron},
		// Wildcard table: 1/10 in minutes, JAN,FEB,MAR, 1-15 in days, 5#3.
		{"cron(1/10 * * * ? *)", Cron},
		{"cron(0 0 1-15 JAN,FEB,MAR ? *)", Cron},
		{"cron(0 0 ? * 5#3 *)", Cron},
	}
	for _, tt := range tests {
		s, errs := Parse(tt.expr)
		if errs != nil {
			t.Errorf("Parse(%q): unexpected errors %v", tt.expr, errs)
			continue
		}
		if s.Kind() != tt.kind {
			t.Errorf("Parse(%q).Kind() = %v, want %v", tt.expr, s.Kind(), tt.kind)
		}
		if s.String() != tt.expr {
			t.Errorf("Parse(%q).String() = %q", tt.expr, s.String())
		}
	}
}

// The expressions AWS's pages call invalid.
func TestParseAWSInvalidExamples(t *testing.T) {
	for _, expr := range []string{
		// "Reference: Cron and rate expressions for Systems Manager":
		// "rate(1 hours) and rate(5 hour) aren't valid".
		"rate(1 hours)",
		"rate(5 hour)",
		// EventBridge "Cron expressions reference": '"3#1,6#3" is not valid'
		// and "You can't use * in both the Day-of-month and Day-of-week fields".
		"cron(0 0 ? * 3#1,6#3 *)",
		"cron(0 10 * * * *)",
	} {
		if s, errs := Parse(expr); errs == nil {
			t.Errorf("Parse(%q) = %v, want an error", expr, s)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		expr    string
		offset  int
		length  int
		message string
		hint    string // substring; "" means not checked
	}{
		// Field counts.
		{"cron(0 0 * * ?)", 5, 9, "cron expression has 5 fields; Systems Manager needs 6 (minutes hours day-of-month month day-of-week year), optionally preceded by seconds", "year"},
		{"cron(0 0 0 * * ? * 2026)", 19, 4, "cron expression has 8 fields; Systems Manager accepts 6 (minutes hours day-of-month month day-of-week year), or 7 with seconds first", ""},
		{"cron()", 5, 1, "cron() needs 6 fields: minutes hours day-of-month month day-of-week year", ""},
		// The "?" rule.
		{"cron(0 0 ? * ? *)", 13, 1, `day-of-month and day-of-week cannot both be "?"`, "only one"},
		{"cron(0 0 * * * *)", 13, 1, `one of day-of-month and day-of-week must be "?"`, `"?" in day-of-week`},
		{"cron(0 0 * * MON *)", 9, 1, `one of day-of-month and day-of-week must be "?"`, `use "?" in day-of-month when day-of-week is set`},
		{"cron(0 0 1 * MON *)", 13, 3, `one of day-of-month and day-of-week must be "?"`, `use "?" in day-of-week when day-of-month is set`},
		{"cron(0 0 1,? * * *)", 11, 1, `"?" must be the whole day-of-month field`, ""},
		{"cron(? 0 * * ? *)", 5, 1, `"?" is only allowed in day-of-month or day-of-week`, ""},
		// Out of range, field by field.
		{"cron(60 0 0 * * ? *)", 5, 2, "seconds value 60 is out of range 0-59", ""},
		{"cron(60 0 * * ? *)", 5, 2, "minutes value 60 is out of range 0-59", ""},
		{"cron(0 24 * * ? *)", 7, 2, "hours value 24 is out of range 0-23", "midnight"},
		{"cron(0 0 32 * ? *)", 9, 2, "day-of-month value 32 is out of range 1-31", ""},
		{"cron(0 0 0 * ? *)", 9, 1, "day-of-month value 0 is out of range 1-31", ""},
		{"cron(0 0 1 13 ? *)", 11, 2, "month value 13 is out of range 1-12", ""},
		{"cron(0 0 1 0 ? *)", 11, 1, "month value 0 is out of range 1-12", ""},
		{"cron(0 0 ? * 8 *)", 13, 1, "day-of-week value 8 is out of range 1-7 (1 = Sunday)", ""},
		{"cron(0 0 ? * 0 *)", 13, 1, "day-of-week value 0 is out of range 1-7 (1 = Sunday)", "use 1 or SUN for Sunday"},
		{"cron(0 0 1 * ? 2200)", 15, 4, "year value 2200 is out of range 1970-2199", ""},
		{"cron(0 0 1 * ? 1969)", 15, 4, "year value 1969 is out of range 1970-2199", ""},
		{"cron(-1 0 * * ? *)", 5, 2, "minutes value -1 is out of range 0-59", ""},
		{"cron(0 0 1-40 * ? *)", 11, 2, "day-of-month value 40 is out of range 1-31", ""},
		// Names.
		{"cron(0 0 1 JANUARY ? *)", 11, 7, `"JANUARY" is not a month name`, `"JAN"`},
		{"cron(0 0 1 FOO ? *)", 11, 3, `"FOO" is not a month name`, "JAN-DEC"},
		{"cron(0 0 ? * MONDAY *)", 13, 6, `"MONDAY" is not a day-of-week name`, `"MON"`},
		{"cron(0 0 ? * XYZ *)", 13, 3, `"XYZ" is not a day-of-week name`, "SUN-SAT"},
		{"cron(0 0 ? JAN TUE#2 MON)", 21, 3, `year takes numbers only, not "MON"`, ""},
		{"cron(MON 0 * * ? *)", 5, 3, `minutes takes numbers only, not "MON"`, ""},
		// Steps and ranges.
		{"cron(*/0 * * * ? *)", 7, 1, "minutes step 0 is out of range 1-59", ""},
		{"cron(0/60 * * * ? *)", 7, 2, "minutes step 60 is out of range 1-59", ""},
		{"cron(0 */x * * ? *)", 9, 1, `hours step "x" is not a number`, ""},
		{"cron(0/ * * * ? *)", 6, 1, `"/" needs a step after it`, ""},
		{"cron(/5 * * * ? *)", 5, 1, `"/" needs a starting value before it`, ""},
		{"cron(0 20-4 * * ? *)", 7, 4, "hours range 20-4 runs backwards", "20-23,0-4"},
		{"cron(0 0 1,,2 * ? *)", 10, 1, `empty value in day-of-month list "1,,2"`, ""},
		{"cron(0 0 1.5 * ? *)", 10, 1, `unexpected character "." in day-of-month`, ""},
		// L, W and # in the wrong place or form.
		{"cron(0 L * * ? *)", 7, 1, `"L" is only allowed in day-of-month or day-of-week`, ""},
		{"cron(0 0 1 L ? *)", 11, 1, `"L" is not a month name`, ""},
		{"cron(5L 0 * * ? *)", 6, 1, `"L" is only allowed in day-of-month or day-of-week`, ""},
		{"cron(0 0 ? * 15W *)", 15, 1, `"W" is only allowed in day-of-month`, ""},
		{"cron(0 0 1#2 * ? *)", 10, 1, `"#" is only allowed in day-of-week`, ""},
		{"cron(0 0 5L * ? *)", 9, 2, `"5L" is not valid in day-of-month`, "day-of-week"},
		{"cron(0 0 L-3 * ? *)", 9, 3, `"L-3" (days before the last) is not supported by Systems Manager`, ""},
		{"cron(0 0 1-15W * ? *)", 9, 5, `"W" takes a single day`, ""},
		{"cron(0 0 W * ? *)", 9, 1, `"W" needs a day before it`, ""},
		{"cron(0 0 32W * ? *)", 9, 2, "day-of-month value 32 is out of range 1-31", ""},
		{"cron(0 0 L,15 * ? *)", 9, 1, `"L" cannot be combined with other values in day-of-month`, ""},
		{"cron(0 0 ? * 3#6 *)", 14, 2, `"#6" is out of range: the number after "#" must be 1-5`, ""},
		{"cron(0 0 ? * 3#0 *)", 14, 2, `"#0" is out of range: the number after "#" must be 1-5`, ""},
		{"cron(0 0 ? * 8#1 *)", 13, 1, "day-of-week value 8 is out of range 1-7 (1 = Sunday)", ""},
		{"cron(0 0 ? * 3# *)", 14, 1, `"#" must be followed by a number 1-5`, ""},
		{"cron(0 0 ? * #2 *)", 13, 1, `a weekday is missing before "#"`, ""},
		{"cron(0 0 ? * 3#1,6#3 *)", 13, 7, `"#" allows only one expression in day-of-week`, "3#1"},
		{"cron(0 0 ? * 9L *)", 13, 1, "day-of-week value 9 is out of range 1-7 (1 = Sunday)", ""},
		{"cron(0 0 ? * 2-6L *)", 13, 4, `"L" takes a single weekday`, ""},
		// The five-minute floor.
		{"cron(* * * * ? *)", 5, 1, "runs only 1 minute apart (00:00:00 and 00:01:00); Systems Manager does not support cron expressions that run more often than every 5 minutes", ""},
		{"cron(0/2 * * * ? *)", 5, 3, "runs only 2 minutes apart (00:00:00 and 00:02:00); Systems Manager does not support cron expressions that run more often than every 5 minutes", ""},
		{"cron(0,30 0 0 * * ? *)", 5, 4, "runs only 30 seconds apart (00:00:00 and 00:00:30); Systems Manager does not support cron expressions that run more often than every 5 minutes", ""},
		{"cron(0,58 0,23 * * ? *)", 5, 4, "runs only 2 minutes apart (23:58:00 and 00:00:00); Systems Manager does not support cron expressions that run more often than every 5 minutes", ""},
		// rate().
		{"rate(1 minutes)", 7, 7, "rate unit must be singular when the value is 1", "rate(1 minute)"},
		{"rate(1 minutes)", 5, 9, "rate(1 minutes) runs more often than every 5 minutes, which Systems Manager does not support", ""},
		{"rate(1 minute)", 5, 8, "rate(1 minute) runs more often than every 5 minutes, which Systems Manager does not support", ""},
		{"rate(4 minutes)", 5, 9, "rate(4 minutes) runs more often than every 5 minutes, which Systems Manager does not support", ""},
		{"rate(5 minute)", 7, 6, "rate unit must be plural when the value is not 1", "rate(5 minutes)"},
		{"rate(0 hours)", 5, 1, "rate value must be a positive whole number, not 0", ""},
		{"rate(-1 days)", 5, 2, "rate value must be a positive whole number, not -1", ""},
		{"rate(1.5 hours)", 5, 3, `rate value "1.5" is not a whole number`, "90 minutes"},
		{"rate(2 weeks)", 7, 5, `unknown rate unit "weeks"`, "day(s)"},
		{"rate(2 Hours)", 7, 5, `rate unit "Hours" must be written in lower case`, ""},
		{"rate(5)", 6, 1, "rate() is missing its unit", ""},
		{"rate(5 hours now)", 13, 3, "rate() takes only a value and a unit", ""},
		{"rate(1000000 days)", 5, 7, "rate value 1000000 is too large; at most 100000 is supported", ""},
		// at().
		{"at(2026-02-30T10:00:00)", 11, 2, "day 30 is out of range for February 2026, which has 28 days", ""},
		{"at(2027-02-29T10:00:00)", 11, 2, "day 29 is out of range for February 2027, which has 28 days", ""},
		{"at(2026-13-01T10:00:00)", 8, 2, "month 13 is out of range 01-12", ""},
		{"at(2026-12-01T24:00:00)", 14, 2, "hour 24 is out of range 00-23", ""},
		{"at(2026-12-01T10:60:00)", 17, 2, "minute 60 is out of range 00-59", ""},
		{"at(2026-12-01T10:00:60)", 20, 2, "second 60 is out of range 00-59", ""},
		{"at(2026-12-01T10:00:00Z)", 22, 1, "at() takes a date and time without a time zone or fraction", ""},
		{"at(2026-12-01T10:00)", 3, 16, "at() needs a date and time as yyyy-mm-ddThh:mm:ss", "seconds"},
		{"at(2026-12-01 10:00:00)", 3, 19, "at() needs a date and time as yyyy-mm-ddThh:mm:ss", ""},
		// The wrapper.
		{"", 0, 1, "schedule expression is empty", ""},
		{"0 0 * * ? *", 0, 11, "a cron schedule must be wrapped in cron(...)", "cron(0 0 * * ? *)"},
		{"every day", 0, 9, `"every day" is not a schedule expression`, ""},
		{"crontab(0 0 * * ? *)", 0, 7, `unknown schedule type "crontab"`, ""},
		{"CRON(0 0 * * ? *)", 0, 4, `"CRON" must be written in lower case`, ""},
		{"cron (0 0 * * ? *)", 0, 5, `no space is allowed between "cron" and "("`, ""},
		{"cron(0 0 * * ? *", 16, 1, `cron expression is missing its closing ")"`, ""},
		{"cron(0 0 * * ? *) extra", 17, 6, `unexpected " extra" after the closing ")"`, ""},
		{"rate(5 hours))", 12, 1, `unexpected ")" inside rate(...)`, ""},
		{"cron((0 0 * * ? *)", 5, 1, `unexpected "(" inside cron(...)`, ""},
		{"  cron(0 0 * * * *)", 15, 1, `one of day-of-month and day-of-week must be "?"`, ""},
		{"cron(0 0 1 * ? " + strings.Repeat("2026,", 50) + "2026)", 0, 270, "schedule expression is 270 bytes long; Systems Manager accepts at most 256", ""},
	}
	for _, tt := range tests {
		s, errs := Parse(tt.expr)
		if errs == nil {
			t.Errorf("Parse(%q) = %v, want error %q", tt.expr, s, tt.message)
			continue
		}
		if s != nil {
			t.Errorf("Parse(%q) returned a schedule with errors", tt.expr)
		}
		found := false
		for _, e := range errs {
			if e.Message != tt.message {
				continue
			}
			found = true
			if e.Offset != tt.offset || e.Length != tt.length {
				t.Errorf("Parse(%q): %q at %d+%d, want %d+%d", tt.expr, e.Message, e.Offset, e.Length, tt.offset, tt.length)
			}
			if !strings.Contains(e.Hint, tt.hint) {
				t.Errorf("Parse(%q): hint %q does not contain %q", tt.expr, e.Hint, tt.hint)
			}
		}
		if !found {
			t.Errorf("Parse(%q): no error %q in %q", tt.expr, tt.message, errs)
		}
	}
}

// Parse reports every problem, in order, not just the first.
func TestParseReportsAllErrors(t *testing.T) {
	_, errs := Parse("cron(60 24 32 13 ? 2200)")
	want := []string{
		"minutes value 60 is out of range 0-59",
		"hours value 24 is out of range 0-23",
		"day-of-month value 32 is out of range 1-31",
		"month value 13 is out of range 1-12",
		"year value 2200 is out of range 1970-2199",
	}
	if len(errs) != len(want) {
		t.Fatalf("got %d errors %q, want %d", len(errs), errs, len(want))
	}
	for i, e := range errs {
		if e.Message != want[i] {
			t.Errorf("error %d = %q, want %q", i, e.Message, want[i])
		}
	}
}

func TestParseAccepts(t *testing.T) {
	for _, expr := range []string{
		"cron(0 0 ? * sun-sat *)",        // names are case-insensitive
		"cron(0 0 1 jan-dec ? *)",        // month names too
		"cron(0 0 ? * Tue#2 *)",          // name before #
		"cron(0 0 ? * friL *)",           // name before L
		"cron(0 0 ? * L *)",              // L alone in day-of-week: Saturday
		"cron(0 0 LW * ? *)",             // last weekday (Quartz; not in AWS's text)
		"cron(0 0 15W * ? *)",            // nearest weekday
		"cron(0 0 ? * */2 *)",            // "/" in day-of-week (Systems Manager's table)
		"cron(0 1-10/3 * * ? 2026-2030)", // range with step
		"cron(0  0\t* * ? *)",            // runs of blanks between fields
		" cron(0 0 * * ? *) ",            // surrounding space
		"cron( 0 0 * * ? * )",            // blanks inside the parentheses
		"cron(0 0 30 2 ? *)",             // never runs, but is valid
		"cron(0 0 1 1 ? 1970)",           // in the past, but valid
		"cron(59 59 23 31 12 ? 2199)",    // the last second of the range
		"rate(100000 days)",
		"rate(5 minutes)",
		"at(2199-12-31T23:59:59)",
	} {
		if _, errs := Parse(expr); errs != nil {
			t.Errorf("Parse(%q): %q", expr, errs)
		}
	}
}

func TestStringTrims(t *testing.T) {
	s, errs := Parse("  rate(5 hours)\n")
	if errs != nil {
		t.Fatal(errs)
	}
	if got := s.String(); got != "rate(5 hours)" {
		t.Errorf("String() = %q", got)
	}
}

func TestValidateOffset(t *testing.T) {
	cron, _ := Parse("cron(30 23 ? * TUE#3 *)")
	rate, _ := Parse("rate(7 days)")
	at, _ := Parse("at(2026-12-01T10:00:00)")
	tests := []struct {
		s       *Schedule
		days    int
		wantErr string
	}{
		{cron, 0, ""},
		{cron, 1, ""},
		{cron, 6, ""},
		{cron, 7, "schedule offset 7 is out of range 1-6 days"},
		{cron, -1, "schedule offset -1 is out of range 1-6 days"},
		{rate, 0, ""},
		{rate, 2, "a schedule offset can only be used with a cron expression, not with rate()"},
		{at, 1, "a schedule offset can only be used with a cron expression, not with at()"},
	}
	for _, tt := range tests {
		err := tt.s.ValidateOffset(tt.days)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.wantErr {
			t.Errorf("%v.ValidateOffset(%d) = %q, want %q", tt.s, tt.days, got, tt.wantErr)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Message: "day-of-week value 8 is out of range 1-7 (1 = Sunday)", Hint: "use SUN-SAT"}
	if got, want := e.Error(), "day-of-week value 8 is out of range 1-7 (1 = Sunday); use SUN-SAT"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Hint = ""
	if got, want := e.Error(), "day-of-week value 8 is out of range 1-7 (1 = Sunday)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
