package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

const maxRateValue = 100_000

var rateUnits = map[string]time.Duration{
	"minute": time.Minute,
	"hour":   time.Hour,
	"day":    24 * time.Hour,
}

// parseRate parses the body of rate(value unit).
//
// "Reference: Cron and rate expressions for Systems Manager": the value is a
// positive number, the unit one of minute, minutes, hour, hours, day, days;
// "If the value is equal to 1, then the unit must be singular. Similarly, for
// values greater than 1, the unit must be plural." A day is 24 hours: the
// runs keep a fixed interval and drift across daylight-saving changes, as
// EventBridge Scheduler documents for its rate schedules.
func (p *parser) parseRate(s *Schedule, body string, off int) {
	const example = "e.g. rate(5 hours)"
	toks := splitFields(body, off)
	switch {
	case len(toks) == 0:
		p.errorf(off, len(body), example, "rate() needs a value and a unit")
		return
	case len(toks) == 1:
		if isDigits(toks[0].text) {
			p.errorf(toks[0].end(), 1, "add minutes, hours or days, "+example, "rate() is missing its unit")
		} else {
			p.errorf(toks[0].off, len(toks[0].text), example, "rate() needs a value and a unit")
		}
		return
	case len(toks) > 2:
		last := toks[len(toks)-1]
		p.errorf(toks[2].off, last.end()-toks[2].off, example, "rate() takes only a value and a unit")
		return
	}
	vt, ut := toks[0], toks[1]

	value := 0
	valueOK := false
	switch {
	case isDigits(vt.text):
		v, err := strconv.Atoi(vt.text)
		// The cap keeps value × unit inside time.Duration (about 292 years).
		if err != nil || v > maxRateValue {
			p.errorf(vt.off, len(vt.text), "", "rate value %s is too large; at most %d is supported", vt.text, maxRateValue)
			break
		}
		if v == 0 {
			p.errorf(vt.off, len(vt.text), example, "rate value must be a positive whole number, not 0")
			break
		}
		value, valueOK = v, true
	case strings.HasPrefix(vt.text, "-") || strings.HasPrefix(vt.text, "+"):
		p.errorf(vt.off, len(vt.text), example, "rate value must be a positive whole number, not %s", vt.text)
	default:
		p.errorf(vt.off, len(vt.text), "use a smaller unit instead of a fraction, e.g. rate(90 minutes)", "rate value %q is not a whole number", vt.text)
	}

	lower := asciiLower(ut.text)
	singular := strings.TrimSuffix(lower, "s")
	unit, known := rateUnits[singular]
	plural := singular != lower
	switch {
	case !known:
		p.errorf(ut.off, len(ut.text), "use minute(s), hour(s) or day(s)", "unknown rate unit %q", ut.text)
		return
	case ut.text != lower:
		p.errorf(ut.off, len(ut.text), "write "+lower, "rate unit %q must be written in lower case", ut.text)
	case valueOK && value == 1 && plural:
		p.errorf(ut.off, len(ut.text), "write rate(1 "+singular+")", "rate unit must be singular when the value is 1")
	case valueOK && value != 1 && !plural:
		p.errorf(ut.off, len(ut.text), fmt.Sprintf("write rate(%d %ss)", value, singular), "rate unit must be plural when the value is not 1")
	}
	if !valueOK {
		return
	}
	interval := time.Duration(value) * unit
	if interval < MinimumInterval {
		p.errorf(vt.off, ut.end()-vt.off, "use rate(5 minutes) or longer",
			"rate(%s %s) runs more often than every 5 minutes, which Systems Manager does not support", vt.text, ut.text)
	}
	s.rateValue, s.rateUnit, s.interval = value, singular, interval
}

// parseAt parses the body of at(yyyy-mm-ddThh:mm:ss).
//
// "Reference: Cron and rate expressions for Systems Manager" shows only this
// form, e.g. at(2020-07-07T15:55:00). It calls the timestamp "UTC format",
// yet its CLI examples pair at() with --schedule-timezone, so the reading is
// taken as wall-clock time in the window's time zone (as EventBridge
// Scheduler does); with no time zone set that is UTC.
func (p *parser) parseAt(s *Schedule, body string, off int) {
	const layout = "2006-01-02T15:04:05"
	const example = "e.g. at(2026-12-01T10:00:00)"
	shape := func(t string) bool {
		if len(t) != len(layout) {
			return false
		}
		for i := 0; i < len(t); i++ {
			switch i {
			case 4, 7:
				if t[i] != '-' {
					return false
				}
			case 10:
				if t[i] != 'T' {
					return false
				}
			case 13, 16:
				if t[i] != ':' {
					return false
				}
			default:
				if t[i] < '0' || t[i] > '9' {
					return false
				}
			}
		}
		return true
	}
	if !shape(body) {
		switch {
		case len(body) > len(layout) && shape(body[:len(layout)]):
			extra := body[len(layout):]
			if extra == "Z" || extra[0] == '+' || extra[0] == '-' || extra[0] == '.' {
				p.errorf(off+len(layout), len(extra), "the window's schedule time zone applies; "+example, "at() takes a date and time without a time zone or fraction")
			} else {
				p.errorf(off+len(layout), len(extra), example, "unexpected %q after the time in at()", extra)
			}
		case len(body) == len("2006-01-02T15:04") && shape(body+":00"):
			p.errorf(off, len(body), "add the seconds, "+example, "at() needs a date and time as yyyy-mm-ddThh:mm:ss")
		default:
			p.errorf(off, len(body), example, "at() needs a date and time as yyyy-mm-ddThh:mm:ss")
		}
		return
	}
	num := func(i, n int) int { v, _ := strconv.Atoi(body[i : i+n]); return v }
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, second := num(11, 2), num(14, 2), num(17, 2)
	ok := true
	if month < 1 || month > 12 {
		p.errorf(off+5, 2, "", "month %02d is out of range 01-12", month)
		ok = false
	} else if last := daysIn(year, time.Month(month)); day < 1 || day > last {
		p.errorf(off+8, 2, "", "day %02d is out of range for %s %d, which has %d days", day, time.Month(month), year, last)
		ok = false
	}
	if hour > 23 {
		p.errorf(off+11, 2, "use 00 for midnight", "hour %02d is out of range 00-23", hour)
		ok = false
	}
	if minute > 59 {
		p.errorf(off+14, 2, "", "minute %02d is out of range 00-59", minute)
		ok = false
	}
	if second > 59 {
		p.errorf(off+17, 2, "", "second %02d is out of range 00-59", second)
		ok = false
	}
	if ok {
		s.at = time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	}
}

// daysIn returns the number of days in month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
