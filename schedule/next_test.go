package schedule

import (
	"testing"
	"time"
)

func mustParse(t testing.TB, expr string) *Schedule {
	t.Helper()
	s, errs := Parse(expr)
	if errs != nil {
		t.Fatalf("Parse(%q): %q", expr, errs)
	}
	return s
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// Expected times were worked out by hand and checked with Python's zoneinfo,
// not with this package.
func TestNext(t *testing.T) {
	const layout = "2006-01-02T15:04:05Z07:00"
	tests := []struct {
		name   string
		expr   string
		zone   string
		after  string // in zone
		offset int
		n      int
		want   []string // in zone
	}{
		{"daily UTC", "cron(0 10 * * ? *)", "UTC", "2026-01-01T00:00:00Z", 0, 3,
			[]string{"2026-01-01T10:00:00Z", "2026-01-02T10:00:00Z", "2026-01-03T10:00:00Z"}},
		{"strictly after a run", "cron(0 10 * * ? *)", "UTC", "2026-01-01T10:00:00Z", 0, 1,
			[]string{"2026-01-02T10:00:00Z"}},
		{"a nanosecond before a run", "cron(0 10 * * ? *)", "UTC", "2026-01-01T09:59:59Z", 0, 1,
			[]string{"2026-01-01T10:00:00Z"}},
		{"seconds field", "cron(24 30 09 ? * * *)", "UTC", "2026-01-01T09:30:24Z", 0, 2,
			[]string{"2026-01-02T09:30:24Z", "2026-01-03T09:30:24Z"}},
		{"every 15 minutes", "cron(0/15 * * * ? *)", "UTC", "2026-01-01T23:40:00Z", 0, 3,
			[]string{"2026-01-01T23:45:00Z", "2026-01-02T00:00:00Z", "2026-01-02T00:15:00Z"}},
		{"range with step", "cron(0 1-10/3 * * ? *)", "UTC", "2026-01-01T00:00:00Z", 0, 5,
			[]string{"2026-01-01T01:00:00Z", "2026-01-01T04:00:00Z", "2026-01-01T07:00:00Z", "2026-01-01T10:00:00Z", "2026-01-02T01:00:00Z"}},
		{"weekdays", "cron(0 18 ? * MON-FRI *)", "UTC", "2026-01-02T18:00:00Z", 0, 2, // Friday
			[]string{"2026-01-05T18:00:00Z", "2026-01-06T18:00:00Z"}},
		{"L alone in day-of-week is Saturday", "cron(0 6 ? * L *)", "UTC", "2026-01-01T00:00:00Z", 0, 2,
			[]string{"2026-01-03T06:00:00Z", "2026-01-10T06:00:00Z"}},
		{"February 29th only in leap years", "cron(0 0 29 2 ? *)", "UTC", "2025-01-01T00:00:00Z", 0, 3,
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z", "2036-02-29T00:00:00Z"}},
		{"2100 is not a leap year", "cron(0 0 29 2 ? *)", "UTC", "2096-03-01T00:00:00Z", 0, 1,
			[]string{"2104-02-29T00:00:00Z"}},
		{"L in February, leap and not", "cron(0 2 L 2 ? *)", "UTC", "2027-01-01T00:00:00Z", 0, 3,
			[]string{"2027-02-28T02:00:00Z", "2028-02-29T02:00:00Z", "2029-02-28T02:00:00Z"}},
		{"L in 30- and 31-day months", "cron(0 2 L * ? *)", "UTC", "2026-03-31T02:00:00Z", 0, 2,
			[]string{"2026-04-30T02:00:00Z", "2026-05-31T02:00:00Z"}},
		{"5L is the last Thursday", "cron(0 12 ? * 5L *)", "UTC", "2026-01-01T00:00:00Z", 0, 3,
			[]string{"2026-01-29T12:00:00Z", "2026-02-26T12:00:00Z", "2026-03-26T12:00:00Z"}},
		{"6L is the last Friday (AWS example)", "cron(15 10 ? * 6L *)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-01-30T10:15:00Z"}},
		{"3#2 is the second Tuesday", "cron(0 9 ? * 3#2 *)", "UTC", "2026-01-01T00:00:00Z", 0, 3,
			[]string{"2026-01-13T09:00:00Z", "2026-02-10T09:00:00Z", "2026-03-10T09:00:00Z"}},
		{"THU#3 (AWS example)", "cron(0 2 ? * THU#3 *)", "UTC", "2026-01-01T00:00:00Z", 0, 2,
			[]string{"2026-01-15T02:00:00Z", "2026-02-19T02:00:00Z"}},
		{"a fifth weekday skips months without one", "cron(0 9 ? * 5#5 *)", "UTC", "2026-01-01T00:00:00Z", 0, 3,
			[]string{"2026-01-29T09:00:00Z", "2026-04-30T09:00:00Z", "2026-07-30T09:00:00Z"}},
		{"15W when the 15th is a Sunday", "cron(0 9 15W 2 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-02-16T09:00:00Z"}},
		{"15W when the 15th is a Saturday", "cron(0 9 15W 8 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-08-14T09:00:00Z"}},
		{"15W on a weekday", "cron(0 9 15W 1 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-01-15T09:00:00Z"}},
		{"1W when the 1st is a Saturday stays in the month", "cron(0 9 1W 8 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-08-03T09:00:00Z"}},
		{"1W when the 1st is a Sunday", "cron(0 9 1W 2 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-02-02T09:00:00Z"}},
		{"31W when the 31st is a Sunday stays in the month", "cron(0 9 31W 5 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-05-29T09:00:00Z"}},
		{"31W skips months without a 31st", "cron(0 9 31W * ? 2026)", "UTC", "2026-03-31T10:00:00Z", 0, 2,
			[]string{"2026-05-29T09:00:00Z", "2026-07-31T09:00:00Z"}},
		{"LW when the month ends on a Saturday", "cron(0 9 LW 1 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-01-30T09:00:00Z"}},
		{"LW when the month ends on a Sunday", "cron(0 9 LW 5 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-05-29T09:00:00Z"}},
		{"LW when the month ends on a weekday", "cron(0 9 LW 3 ? 2026)", "UTC", "2026-01-01T00:00:00Z", 0, 1,
			[]string{"2026-03-31T09:00:00Z"}},
		{"year range that ends", "cron(0 0 1 1 ? 2026-2027)", "UTC", "2025-01-01T00:00:00Z", 0, 5,
			[]string{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"a year in the past never runs", "cron(0 0 1 1 ? 2000)", "UTC", "2026-01-01T00:00:00Z", 0, 5, nil},
		{"February 30th never runs", "cron(0 0 30 2 ? *)", "UTC", "2026-01-01T00:00:00Z", 0, 5, nil},
		{"the range ends in 2199", "cron(0 0 31 12 ? *)", "UTC", "2199-06-01T00:00:00Z", 0, 5,
			[]string{"2199-12-31T00:00:00Z"}},
		{"before 1970 starts in 1970", "cron(0 0 1 1 ? *)", "UTC", "1960-06-01T00:00:00Z", 0, 1,
			[]string{"1970-01-01T00:00:00Z"}},

		// Daylight saving time: a skipped reading does not run, a repeated one runs once, at the first.
		{"New York spring forward skips 02:30", "cron(30 2 * * ? *)", "America/New_York", "2026-03-07T00:00:00-05:00", 0, 2,
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-09T02:30:00-04:00"}},
		{"New York spring forward: 03:00 exists", "cron(0 3 * * ? *)", "America/New_York", "2026-03-07T12:00:00-05:00", 0, 1,
			[]string{"2026-03-08T03:00:00-04:00"}},
		{"New York fall back runs 01:30 once", "cron(30 1 * * ? *)", "America/New_York", "2026-10-31T12:00:00-04:00", 0, 2,
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
		{"New York fall back, every 30 minutes in hour 1", "cron(0/30 1 * * ? *)", "America/New_York", "2026-11-01T00:00:00-04:00", 0, 3,
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-02T01:00:00-05:00"}},
		{"after in the repeated hour's second pass", "cron(0/30 1 * * ? *)", "America/New_York", "2026-11-01T01:10:00-05:00", 0, 1,
			[]string{"2026-11-02T01:00:00-05:00"}},
		{"Berlin spring forward skips 02:30", "cron(30 2 * * ? *)", "Europe/Berlin", "2026-03-28T00:00:00+01:00", 0, 2,
			[]string{"2026-03-28T02:30:00+01:00", "2026-03-30T02:30:00+02:00"}},
		{"Berlin fall back runs 02:30 once", "cron(30 2 * * ? *)", "Europe/Berlin", "2026-10-25T00:00:00+02:00", 0, 2,
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"}},
		{"Lord Howe: 30-minute jump forward skips 02:15", "cron(15 2 * * ? *)", "Australia/Lord_Howe", "2026-10-03T00:00:00+10:30", 0, 2,
			[]string{"2026-10-03T02:15:00+10:30", "2026-10-05T02:15:00+11:00"}},
		{"Lord Howe: 30-minute fall back runs 01:45 once", "cron(45 1 * * ? *)", "Australia/Lord_Howe", "2026-04-05T00:00:00+11:00", 0, 2,
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"}},

		// golang/go#81583: Go misreports zone periods at the end of leap years
		// that its tz rules (not explicit transitions) cover.
		{"hourly across the end of a leap year far ahead", "cron(0 * * * ? 2080-2081)", "America/New_York", "2080-12-31T17:30:00-05:00", 0, 4,
			[]string{"2080-12-31T18:00:00-05:00", "2080-12-31T19:00:00-05:00", "2080-12-31T20:00:00-05:00", "2080-12-31T21:00:00-05:00"}},
		{"summer time across the end of a leap year far ahead", "cron(30 10 * * ? *)", "Australia/Lord_Howe", "2080-12-30T00:00:00+11:00", 0, 3,
			[]string{"2080-12-30T10:30:00+11:00", "2080-12-31T10:30:00+11:00", "2081-01-01T10:30:00+11:00"}},

		// Schedule offsets.
		{"offset 2 after the third Tuesday (AWS example)", "cron(30 23 ? * TUE#3 *)", "UTC", "2026-01-01T00:00:00Z", 2, 2,
			[]string{"2026-01-22T23:30:00Z", "2026-02-19T23:30:00Z"}},
		{"offset: a cron time already passed does not run this period", "cron(30 23 ? * TUE#3 *)", "UTC", "2026-01-21T00:00:00Z", 2, 1,
			[]string{"2026-02-19T23:30:00Z"}},
		{"offset 3 after the second Thursday", "cron(0 0 ? * THU#2 *)", "UTC", "2026-01-01T00:00:00Z", 3, 1,
			[]string{"2026-01-11T00:00:00Z"}},
		{"offset keeps the wall-clock time across a DST change", "cron(0 9 ? * SAT#1 *)", "America/New_York", "2026-03-01T00:00:00-05:00", 1, 1,
			[]string{"2026-03-08T09:00:00-04:00"}},
		{"offset into a skipped hour", "cron(30 2 ? * SAT#1 *)", "America/New_York", "2026-03-01T00:00:00-05:00", 1, 1,
			[]string{"2026-04-05T02:30:00-04:00"}},

		// rate(): after + k×interval; a day is 24 hours.
		{"rate hours", "rate(5 hours)", "UTC", "2026-01-01T00:00:07Z", 0, 3,
			[]string{"2026-01-01T05:00:07Z", "2026-01-01T10:00:07Z", "2026-01-01T15:00:07Z"}},
		{"rate days drift across DST", "rate(1 day)", "America/New_York", "2026-03-07T09:00:00-05:00", 0, 2,
			[]string{"2026-03-08T10:00:00-04:00", "2026-03-09T10:00:00-04:00"}},
		{"rate with an offset returns nothing", "rate(1 day)", "UTC", "2026-01-01T00:00:00Z", 1, 2, nil},

		// at().
		{"at in the zone", "at(2026-12-01T10:00:00)", "America/New_York", "2026-01-01T00:00:00-05:00", 0, 3,
			[]string{"2026-12-01T10:00:00-05:00"}},
		{"at already passed", "at(2026-12-01T10:00:00)", "UTC", "2026-12-01T10:00:00Z", 0, 3, nil},
		{"at in a skipped hour never runs", "at(2026-03-08T02:30:00)", "America/New_York", "2026-01-01T00:00:00-05:00", 0, 1, nil},
		{"at in a repeated hour runs at the first", "at(2026-11-01T01:30:00)", "America/New_York", "2026-01-01T00:00:00-05:00", 0, 1,
			[]string{"2026-11-01T01:30:00-04:00"}},
		{"cron with a bad offset returns nothing", "cron(0 10 * * ? *)", "UTC", "2026-01-01T00:00:00Z", 7, 1, nil},
		{"n = 0 returns nothing", "cron(0 10 * * ? *)", "UTC", "2026-01-01T00:00:00Z", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc := mustLoad(t, tt.zone)
			after, err := time.Parse(layout, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			got := mustParse(t, tt.expr).Next(after, loc, tt.offset, tt.n)
			var gotText []string
			for _, g := range got {
				gotText = append(gotText, g.In(loc).Format(layout))
				if g.Location() != loc {
					t.Errorf("run %v is in %v, want %v", g, g.Location(), loc)
				}
			}
			if len(gotText) != len(tt.want) {
				t.Fatalf("Next = %q, want %q", gotText, tt.want)
			}
			for i := range gotText {
				if gotText[i] != tt.want[i] {
					t.Errorf("Next[%d] = %s, want %s (all: %q)", i, gotText[i], tt.want[i], gotText)
				}
			}
		})
	}
}

// Next must stay quick however far it has to look.
func TestNextTerminatesForNeverRunning(t *testing.T) {
	for _, expr := range []string{
		"cron(0 0 30 2 ? *)",
		"cron(0 0 31 4,6,9,11 ? *)",
		"cron(0 0 ? 2 1#5 2027)",    // February 2027 has four Sundays
		"cron(0 0 1 1 ? 1970-1999)", // all in the past
	} {
		s := mustParse(t, expr)
		if got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC, 0, 10); len(got) != 0 {
			t.Errorf("%s: Next = %v, want none", expr, got)
		}
	}
}

func TestNextNilLocationIsUTC(t *testing.T) {
	s := mustParse(t, "cron(0 10 * * ? *)")
	got := s.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil, 0, 1)
	if len(got) != 1 || !got[0].Equal(time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("Next with nil location = %v", got)
	}
}

func TestMinInterval(t *testing.T) {
	tests := []struct {
		expr string
		zone string
		want time.Duration
	}{
		{"rate(30 minutes)", "UTC", 30 * time.Minute},
		{"rate(7 days)", "America/New_York", 7 * 24 * time.Hour},
		{"at(2026-12-01T10:00:00)", "UTC", 0},
		{"cron(0 10 * * ? *)", "UTC", 24 * time.Hour},
		{"cron(0 10 * * ? *)", "America/New_York", 23 * time.Hour}, // the spring-forward day
		{"cron(0/15 * * * ? *)", "UTC", 15 * time.Minute},
		{"cron(0 18 ? * MON-FRI *)", "UTC", 24 * time.Hour},
		{"cron(0 2 ? * SUN *)", "UTC", 7 * 24 * time.Hour},
		{"cron(0 2 L * ? *)", "UTC", 28 * 24 * time.Hour},
		{"cron(0 0 1 1 ? 2030)", "UTC", 0}, // runs once
		{"cron(0 0 1 1 ? 1990-1992)", "UTC", 365 * 24 * time.Hour},
		// 01:55 EST and 03:00 EDT on the spring-forward day are 5 minutes apart.
		{"cron(0 * * 1 ? 2080)", "America/New_York", time.Hour}, // golang/go#81583 once made this hang
		{"cron(0,55 1,3 * * ? *)", "UTC", 55 * time.Minute},
		{"cron(0,55 1,3 * * ? *)", "America/New_York", 5 * time.Minute},
		// The same, with so many runs a day that 400 of them end long before
		// the first clock change: found by looking at each change.
		{"cron(0,55 1,3,5,7,9,11,13,15,17,19,21,23 * * ? *)", "UTC", 55 * time.Minute},
		{"cron(0,55 1,3,5,7,9,11,13,15,17,19,21,23 * * ? *)", "America/New_York", 5 * time.Minute},
	}
	for _, tt := range tests {
		got := mustParse(t, tt.expr).MinInterval(mustLoad(t, tt.zone))
		if got != tt.want {
			t.Errorf("%s in %s: MinInterval = %v, want %v", tt.expr, tt.zone, got, tt.want)
		}
	}
}
