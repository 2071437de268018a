package schedule

import (
	"fmt"
	"strings"
	"time"
)

// SixFieldCron returns a cron() expression in the six-field form (minutes
// hours day-of-month month day-of-week year) that AWS Backup and Amazon Data
// Lifecycle Manager take: the EventBridge form, which has no seconds field.
// A seven-field expression is accepted when its seconds field is 0, which
// is the only second those services can run at; any other seconds value is
// an error. The fields are written as given, separated by single spaces.
func (s *Schedule) SixFieldCron() (string, error) {
	if s.kind != Cron || s.cron == nil {
		return "", fmt.Errorf("%s is not a cron() expression", s.text)
	}
	c := s.cron
	if c.hasSeconds {
		if c.seconds != 1 { // bit 0 only: second 0
			return "", fmt.Errorf("the seconds field %q is not 0; this service runs cron schedules on whole minutes and has no seconds field", c.fields[fSeconds].tok.text)
		}
	}
	fields := make([]string, 0, 6)
	for id := fMinutes; id <= fYear; id++ {
		fields = append(fields, c.fields[id].tok.text)
	}
	return "cron(" + strings.Join(fields, " ") + ")", nil
}

// RateInterval is the interval of a rate() expression, and 0 for the other
// kinds.
func (s *Schedule) RateInterval() time.Duration {
	if s.kind != Rate {
		return 0
	}
	return s.interval
}
