package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Describe returns plain English for reviewers, e.g. "at 00:00 every day",
// "every 15 minutes", "at 06:00 on Sunday", "at 02:30 on the last day of the
// month", "at 09:00 on the second Tuesday of the month", "once at
// 2026-12-01 10:00". Times are wall-clock times in the window's time zone,
// which the caller names alongside.
func (s *Schedule) Describe() string {
	switch s.kind {
	case Rate:
		if s.rateValue == 1 {
			return "every " + s.rateUnit
		}
		return fmt.Sprintf("every %d %ss", s.rateValue, s.rateUnit)
	case At:
		layout := "2006-01-02 15:04"
		if s.at.Second() != 0 {
			layout += ":05"
		}
		return "once at " + s.at.Format(layout)
	case Cron:
		return s.cron.describe()
	}
	return ""
}

func (c *cronSpec) describe() string {
	out, periodic := c.describeTime()
	if days := c.describeDays(); days != "" {
		out += " " + days
	} else if !periodic {
		out += " every day"
	}
	if c.months != allBits(1, 12) && !c.namesMonth() {
		out += " in " + joinList(compressRuns(bitValues(c.months, 1, 12), func(m int) string { return time.Month(m).String() }))
	}
	if years := c.years.members(); len(years) != lastYear-firstYear+1 {
		out += " in " + joinList(compressRuns(years, func(y int) string { return strconv.Itoa(y + firstYear) }))
	}
	return out
}

// describeTime renders the time-of-day fields. periodic reports that it
// already says "every ...", so "every day" would be redundant.
func (c *cronSpec) describeTime() (text string, periodic bool) {
	secs := bitValues(c.seconds, 0, 59)
	mins := bitValues(c.minutes, 0, 59)
	hours := bitValues(c.hours, 0, 23)
	clock := func(h, m, s int) string {
		if s != 0 {
			return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
		}
		return fmt.Sprintf("%02d:%02d", h, m)
	}
	if len(secs) == 1 && len(mins) == 1 {
		m, s := mins[0], secs[0]
		if start, step, ok := fullProgression(hours, 0, 23); ok {
			out := fmt.Sprintf("every %d hours", step)
			if start != 0 || m != 0 || s != 0 {
				out += " starting at " + clock(start, m, s)
			}
			return out, true
		}
	}
	if len(hours)*len(mins)*len(secs) <= 6 {
		var times []string
		for _, h := range hours {
			for _, m := range mins {
				for _, s := range secs {
					times = append(times, clock(h, m, s))
				}
			}
		}
		return "at " + joinList(times), false
	}
	if len(secs) == 1 && len(mins) == 1 {
		m, s := mins[0], secs[0]
		if len(hours) == 24 {
			if m == 0 && s == 0 {
				return "every hour", true
			}
			return fmt.Sprintf("at %s past every hour", minuteSecond(m, s)), true
		}
		if h0, h1, ok := contiguous(hours); ok {
			return fmt.Sprintf("every hour from %s to %s", clock(h0, m, s), clock(h1, m, s)), true
		}
	}
	if len(secs) == 1 {
		if start, step, ok := fullProgression(mins, 0, 59); ok || len(mins) == 60 {
			out := "every minute"
			if len(mins) != 60 {
				out = fmt.Sprintf("every %d minutes", step)
				if start != 0 {
					out += fmt.Sprintf(" starting at minute %d", start)
				}
			}
			if secs[0] != 0 {
				out += fmt.Sprintf(" at second %d", secs[0])
			}
			switch h0, h1, ok := contiguous(hours); {
			case len(hours) == 24:
			case ok:
				out += fmt.Sprintf(" from %s to %s", clock(h0, mins[0], secs[0]), clock(h1, mins[len(mins)-1], secs[0]))
			default:
				out += " during hours " + joinList(compressRuns(hours, func(h int) string { return fmt.Sprintf("%02d", h) }))
			}
			return out, true
		}
	}
	number := strconv.Itoa
	suffix := func(n int) string {
		if n > 1 {
			return "s"
		}
		return ""
	}
	out := "at minute" + suffix(len(mins)) + " " + joinList(compressRuns(mins, number))
	if len(secs) > 1 || secs[0] != 0 {
		out = "at second" + suffix(len(secs)) + " " + joinList(compressRuns(secs, number)) +
			" of minute" + suffix(len(mins)) + " " + joinList(compressRuns(mins, number))
	}
	if len(hours) == 24 {
		return out + " of every hour", true
	}
	return out + " past hour" + suffix(len(hours)) + " " + joinList(compressRuns(hours, number)), len(mins) > 1 || len(hours) > 1
}

func minuteSecond(m, s int) string {
	if s == 0 {
		return plural(m, "minute")
	}
	return plural(m, "minute") + " " + plural(s, "second")
}

var ordinals = [...]string{"", "first", "second", "third", "fourth", "fifth"}

func (c *cronSpec) describeDays() string {
	if c.useDOW {
		f := c.dow()
		switch f.dow {
		case dowLast:
			return "on the last " + weekdayName(f.day) + " of the month"
		case dowNth:
			return "on the " + ordinals[f.nth] + " " + weekdayName(f.day) + " of the month"
		}
		if c.dowDays == allBits(1, 7) {
			return ""
		}
		return "on " + joinList(compressRuns(bitValues(c.dowDays, 1, 7), weekdayName))
	}
	f := c.dom()
	switch f.dom {
	case domLast:
		return "on the last day of the month"
	case domLastWeekday:
		return "on the last weekday of the month"
	case domNearestWeekday:
		return fmt.Sprintf("on the weekday nearest day %d of the month", f.day)
	}
	if c.domDays == allBits(1, 31) {
		return ""
	}
	days := bitValues(c.domDays, 1, 31)
	if months := bitValues(c.months, 1, 12); len(months) == 1 {
		// "on February 29" reads better than "on day 29 of the month in February";
		// describe leaves the month out when this names it.
		return "on " + time.Month(months[0]).String() + " " + joinList(compressRuns(days, strconv.Itoa))
	}
	word := "day"
	if len(days) > 1 {
		word = "days"
	}
	return "on " + word + " " + joinList(compressRuns(days, strconv.Itoa)) + " of the month"
}

// namesMonth reports whether describeDays already names the single month,
// as in "on February 29".
func (c *cronSpec) namesMonth() bool {
	return !c.useDOW && c.dom().dom == domValues && c.domDays != allBits(1, 31) && len(bitValues(c.months, 1, 12)) == 1
}

func weekdayName(d int) string { return time.Weekday(d - 1).String() }

// allBits returns a mask with bits lo..hi set.
func allBits(lo, hi int) uint64 { return (1<<uint(hi+1) - 1) &^ (1<<uint(lo) - 1) }

func bitValues(m uint64, lo, hi int) []int {
	var out []int
	for v := lo; v <= hi; v++ {
		if m&(1<<uint(v)) != 0 {
			out = append(out, v)
		}
	}
	return out
}

// fullProgression reports whether vals is start, start+step, ... covering the
// whole field: every step-th value, as */step or start/step would write it.
func fullProgression(vals []int, lo, hi int) (start, step int, ok bool) {
	if len(vals) < 2 {
		return 0, 0, false
	}
	step = vals[1] - vals[0]
	for i := 2; i < len(vals); i++ {
		if vals[i]-vals[i-1] != step {
			return 0, 0, false
		}
	}
	start = vals[0]
	return start, step, step > 1 && start-lo < step && vals[len(vals)-1]+step > hi
}

// contiguous reports whether vals is one run lo..hi.
func contiguous(vals []int) (lo, hi int, ok bool) {
	if len(vals) == 0 {
		return 0, 0, false
	}
	for i := 1; i < len(vals); i++ {
		if vals[i] != vals[i-1]+1 {
			return 0, 0, false
		}
	}
	return vals[0], vals[len(vals)-1], true
}

// compressRuns names vals, writing runs of three or more as "a through b".
func compressRuns(vals []int, name func(int) string) []string {
	var out []string
	for i := 0; i < len(vals); {
		j := i
		for j+1 < len(vals) && vals[j+1] == vals[j]+1 {
			j++
		}
		if j-i >= 2 {
			out = append(out, name(vals[i])+" through "+name(vals[j]))
		} else {
			for k := i; k <= j; k++ {
				out = append(out, name(vals[k]))
			}
		}
		i = j + 1
	}
	return out
}

// joinList joins items as English does: "a", "a and b", "a, b and c".
func joinList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
