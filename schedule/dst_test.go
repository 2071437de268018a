package schedule

import (
	"testing"
	"time"
)

func TestDSTAmbiguities(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		expr   string
		zone   string
		offset int
		want   []string
	}{
		{"daily in the skipped and repeated hours", "cron(30 1,2 * * ? *)", "America/New_York", 0, []string{
			"2026-03-08 02:30 does not exist in America/New_York (clocks go forward 1 hour at 02:00); that run is skipped",
			"2026-11-01 01:30 happens twice in America/New_York (clocks go back 1 hour at 02:00); it runs once, at the first (01:30 EDT)",
		}},
		{"Berlin", "cron(30 2 * * ? *)", "Europe/Berlin", 0, []string{
			"2026-03-29 02:30 does not exist in Europe/Berlin (clocks go forward 1 hour at 02:00); that run is skipped",
			"2026-10-25 02:30 happens twice in Europe/Berlin (clocks go back 1 hour at 03:00); it runs once, at the first (02:30 CEST)",
		}},
		{"Lord Howe's half hour", "cron(15,45 1,2 * * ? *)", "Australia/Lord_Howe", 0, []string{
			"2026-04-05 01:45 happens twice in Australia/Lord_Howe (clocks go back 30 minutes at 02:00); it runs once, at the first (01:45 +11)",
			"2026-10-04 02:15 does not exist in Australia/Lord_Howe (clocks go forward 30 minutes at 02:00); that run is skipped",
		}},
		{"untouched times", "cron(0 12 * * ? *)", "America/New_York", 0, nil},
		{"UTC has no clock changes", "cron(30 2 * * ? *)", "UTC", 0, nil},
		{"a weekly run on another day", "cron(30 2 ? * MON *)", "America/New_York", 0, nil},
		{"the offset moves the run into the skipped hour", "cron(30 2 ? * SAT *)", "America/New_York", 1, []string{
			"2026-03-08 02:30 does not exist in America/New_York (clocks go forward 1 hour at 02:00); that run is skipped",
		}},
		{"the offset moves the run out of the skipped hour", "cron(30 2 ? * SUN *)", "America/New_York", 1, nil},
		{"rate is never affected", "rate(1 day)", "America/New_York", 0, nil},
		{"at in a skipped hour", "at(2026-03-08T02:30:00)", "America/New_York", 0, []string{
			"2026-03-08 02:30 does not exist in America/New_York (clocks go forward 1 hour at 02:00); that run is skipped",
		}},
		{"at elsewhere", "at(2026-03-09T02:30:00)", "America/New_York", 0, nil},
		{"at on the last day of a leap year far ahead", "at(2080-12-31T12:00:00)", "America/New_York", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DSTAmbiguities(mustParse(t, tt.expr), mustLoad(t, tt.zone), from, tt.offset, 1)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d ambiguities %v, want %d %q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if s := got[i].String(); s != tt.want[i] {
					t.Errorf("[%d] = %q, want %q", i, s, tt.want[i])
				}
			}
		})
	}
}

func TestDSTAmbiguityFields(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	got := DSTAmbiguities(mustParse(t, "cron(0/30 1-2 * * ? *)"), ny, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 0, 1)
	// 02:00 and 02:30 skipped in March; 01:00 and 01:30 repeated in November.
	if len(got) != 4 {
		t.Fatalf("got %d ambiguities: %v", len(got), got)
	}
	skipped, repeated := got[0], got[2]
	if skipped.Problem != Skipped || !skipped.Run.IsZero() || skipped.Shift != time.Hour ||
		skipped.Wall != time.Date(2026, 3, 8, 2, 0, 0, 0, time.UTC) ||
		!skipped.Change.Equal(time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("skipped = %+v", skipped)
	}
	if repeated.Problem != Repeated || repeated.Shift != -time.Hour ||
		!repeated.Run.Equal(time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC)) ||
		repeated.Wall != time.Date(2026, 11, 1, 1, 0, 0, 0, time.UTC) {
		t.Errorf("repeated = %+v", repeated)
	}
}
