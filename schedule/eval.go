package schedule

import (
	"time"
)

// Wall-clock readings ("2026-03-08 02:30:00 in America/New_York") are kept
// as time.Time values in UTC whose fields are the local date and clock. That
// gives calendar arithmetic without daylight-saving surprises, and can hold
// readings that do not exist in the zone (the skipped spring-forward hour),
// which a time.Time in the zone itself cannot.

// wallOf returns the wall-clock reading of t in loc, to the second.
func wallOf(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	y, mo, d := l.Date()
	h, mi, s := l.Clock()
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

// Daylight saving time. Systems Manager does not document what a maintenance
// window does when its wall-clock time is skipped or repeated. EventBridge
// Scheduler, which evaluates the same cron dialect in IANA time zones, does:
// "When the time shifts forward in Spring, your schedule invocation gets
// skipped if the cron expression falls on a non-existent date and time. When
// the time shifts back in the Fall, your schedule runs only once and doesn't
// repeat its invocation." (AWS re:Post Knowledge Center, "How can I adjust my
// Amazon EventBridge schedule for daylight saving?"; "Schedule types on
// EventBridge Scheduler"). We follow that rule. Which of the two instants a
// repeated reading runs at is not documented; we take the first (the earlier,
// still on daylight time), which is what a clock watcher sees first.
// DSTAmbiguities lists every run the rule affects so that a reviewer is told.

// resolution is what a wall-clock reading means in a zone.
type resolution struct {
	first time.Time // the earliest instant showing the reading; the jump if none does
	count int       // how many instants show it: 0 skipped, 1 normal, 2 repeated
}

// resolve finds the instants at which the clocks of loc show wall. It walks
// the zone periods (ZoneBounds) around the reading, so it is exact for any
// transition the tz database describes, whatever its size.
func resolve(wall time.Time, loc *time.Location) resolution {
	const reach = 30 * 3600 // more than any UTC offset, so every candidate period is visited
	w := wall.Unix()
	t := time.Unix(w-reach, 0).In(loc)
	var r resolution
	var jump int64
	for range 64 {
		_, off := t.Zone()
		start, end := zoneBounds(t)
		u := w - int64(off)
		afterStart := start.IsZero() || u >= start.Unix()
		beforeEnd := end.IsZero() || u < end.Unix()
		switch {
		case afterStart && beforeEnd:
			if r.count == 0 || u < r.first.Unix() {
				r.first = time.Unix(u, 0)
			}
			r.count++
		case !beforeEnd:
			// The reading comes after this period's end in its offset; if no
			// period shows it, the clocks jumped over it at this end.
			jump = end.Unix()
		}
		if end.IsZero() || end.Unix() > w+reach {
			break
		}
		t = end.In(loc)
	}
	if r.count == 0 {
		r.first = time.Unix(jump, 0)
	}
	r.first = r.first.In(loc)
	return r
}

// nextWall returns the earliest reading at or after from that matches c, or
// false if there is none before the end of 2199. It never loops over more
// than the 230 × 12 months of the year range, so it ends quickly even for
// expressions that never match (February 30th, or a year in the past).
func (c *cronSpec) nextWall(from time.Time) (time.Time, bool) {
	y, mo, d := from.Date()
	h, mi, s := from.Clock()
	if y < firstYear {
		y, mo, d, h, mi, s = firstYear, time.January, 1, 0, 0, 0
	}
	for ; y <= lastYear; y, mo, d, h, mi, s = y+1, time.January, 1, 0, 0, 0 {
		if !c.years.has(y - firstYear) {
			continue
		}
		for ; mo <= time.December; mo, d, h, mi, s = mo+1, 1, 0, 0, 0 {
			if c.months&(1<<uint(mo)) == 0 {
				continue
			}
			days := c.dayMask(y, mo)
			for {
				dd := nextBit64(days, d)
				if dd < 0 {
					break
				}
				if dd != d {
					d, h, mi, s = dd, 0, 0, 0
				}
				if hh, mm, ss, ok := c.nextTime(h, mi, s); ok {
					return time.Date(y, mo, d, hh, mm, ss, 0, time.UTC), true
				}
				d, h, mi, s = d+1, 0, 0, 0
			}
		}
	}
	return time.Time{}, false
}

// nextTime returns the earliest matching time of day at or after h:mi:s.
func (c *cronSpec) nextTime(h, mi, s int) (int, int, int, bool) {
	for hh := nextBit64(c.hours, h); hh >= 0; hh = nextBit64(c.hours, hh+1) {
		if hh != h {
			mi, s = 0, 0
		}
		for mm := nextBit64(c.minutes, mi); mm >= 0; mm = nextBit64(c.minutes, mm+1) {
			if mm != mi {
				s = 0
			}
			if ss := nextBit64(c.seconds, s); ss >= 0 {
				return hh, mm, ss, true
			}
			mi, s = mm+1, 0
		}
		h, mi, s = hh+1, 0, 0
	}
	return 0, 0, 0, false
}

// dayMask returns the days (bit d) of month m of year y that the day fields select.
func (c *cronSpec) dayMask(y int, m time.Month) uint64 {
	last := daysIn(y, m)
	// AWS numbers weekdays 1-7 from Sunday; Go's Weekday is 0-6 from Sunday.
	firstWeekday := int(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).Weekday()) + 1
	weekday := func(d int) int { return (firstWeekday-1+d-1)%7 + 1 }
	if !c.useDOW {
		f := c.dom()
		switch f.dom {
		case domLast:
			return 1 << uint(last)
		case domLastWeekday:
			d := last
			switch weekday(d) {
			case 7:
				d--
			case 1:
				d -= 2
			}
			return 1 << uint(d)
		case domNearestWeekday:
			// The weekday nearest the day, never leaving the month (Quartz:
			// "1W" on a Saturday is Monday the 3rd, not Friday of the month before).
			d := f.day
			if d > last {
				return 0
			}
			switch weekday(d) {
			case 7:
				if d == 1 {
					d = 3
				} else {
					d--
				}
			case 1:
				if d == last {
					d -= 2
				} else {
					d++
				}
			}
			return 1 << uint(d)
		}
		return c.domDays & (1<<uint(last+1) - 1)
	}
	f := c.dow()
	switch f.dow {
	case dowLast:
		d := last - (weekday(last)-f.day+7)%7
		return 1 << uint(d)
	case dowNth:
		d := 1 + (f.day-firstWeekday+7)%7 + 7*(f.nth-1)
		if d > last {
			return 0
		}
		return 1 << uint(d)
	}
	var mask uint64
	for d := 1; d <= last; d++ {
		if c.dowDays&(1<<uint(weekday(d))) != 0 {
			mask |= 1 << uint(d)
		}
	}
	return mask
}

// Next returns up to n activation times strictly after `after`, evaluated in
// loc (nil means UTC), with offsetDays (0 or 1-6) added for cron. It returns
// fewer than n when the schedule stops (a year range that ends, at(), or a
// date that never comes such as February 30th), and nil for an offset that
// ValidateOffset rejects.
//
// Cron fields are wall-clock times in loc; a reading that daylight saving
// skips does not run and a repeated one runs once, at its first instant (see
// resolve). The offset moves each run that many calendar days later, at the
// same wall-clock time. Which runs count is decided by the cron time, not the
// offset one: "if you specify a cron expression that would have run a
// maintenance window yesterday and add a schedule offset of two days, the
// maintenance window won't run tomorrow" ("Reference: Cron and rate
// expressions for Systems Manager").
//
// rate(): Systems Manager starts a rate window when it is created (a start
// date in the past is replaced by the current time, says CreateMaintenanceWindow),
// so `after` stands for that moment and the runs are after + k×interval,
// k = 1..n. A day is 24 hours, whatever daylight saving does.
//
// at(): the single run, if it is after `after`.
func (s *Schedule) Next(after time.Time, loc *time.Location, offsetDays int, n int) []time.Time {
	if n <= 0 || s.ValidateOffset(offsetDays) != nil {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	var out []time.Time
	s.each(after, loc, offsetDays, func(t time.Time) bool {
		out = append(out, t)
		return len(out) < n
	})
	return out
}

// each calls yield with the runs after `after`, in order, until yield returns
// false or the schedule ends.
func (s *Schedule) each(after time.Time, loc *time.Location, offsetDays int, yield func(time.Time) bool) {
	switch s.kind {
	case Rate:
		t := after
		for {
			t = t.Add(s.interval)
			if t.Year() > lastYear+1 || !yield(t.In(loc)) {
				return
			}
		}
	case At:
		if r := resolve(s.at, loc); r.count > 0 && r.first.After(after) {
			yield(r.first)
		}
	case Cron:
		// Start at the reading of `after` itself: a repeated hour can show an
		// earlier reading after a later one, so matches are filtered by
		// instant, not by reading.
		from := wallOf(after, loc)
		for {
			w, ok := s.cron.nextWall(from)
			if !ok {
				return
			}
			from = w.Add(time.Second)
			r := resolve(w, loc)
			if !r.first.After(after) {
				continue
			}
			if offsetDays != 0 {
				r = resolve(w.AddDate(0, 0, offsetDays), loc)
			}
			if r.count == 0 {
				continue // skipped by daylight saving time
			}
			if !yield(r.first) {
				return
			}
		}
	}
}

// MinInterval is the shortest gap between two consecutive runs: for rate()
// the rate; for at() 0, meaning "once"; for cron, measured in loc over the
// first 400 runs and across every daylight-saving change in the first two
// years, counted from the start of the first year the expression allows that
// is 2000 or later (or its first year, if all are earlier). A fixed start
// keeps the answer independent of the clock. A cron expression that runs at
// most once also gives 0.
func (s *Schedule) MinInterval(loc *time.Location) time.Duration {
	switch s.kind {
	case Rate:
		return s.interval
	case At:
		return 0
	}
	if loc == nil {
		loc = time.UTC
	}
	year := s.cron.years.next(2000 - firstYear)
	if year < 0 {
		year = s.cron.years.next(0) // every allowed year is before 2000
	}
	year += firstYear
	start := resolve(time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC), loc).first.Add(-time.Second)

	var shortest time.Duration
	note := func(d time.Duration) {
		if shortest == 0 || d < shortest {
			shortest = d
		}
	}
	// scan notes the gaps between the runs after `after`, stopping after
	// limit runs or at the first run past until.
	scan := func(after, until time.Time, limit int) (count int, last time.Time) {
		s.each(after, loc, 0, func(t time.Time) bool {
			if count > 0 {
				note(t.Sub(last))
			}
			last = t
			count++
			return count < limit && (until.IsZero() || !t.After(until))
		})
		return count, last
	}
	horizon := start.AddDate(2, 0, 0)
	if n, last := scan(start, time.Time{}, 400); n == 400 && last.Before(horizon) {
		// 400 runs did not reach two years: also look closely at each
		// daylight-saving change, where gaps shrink or grow.
		for _, tr := range transitions(loc, start, horizon) {
			scan(tr.at.Add(-48*time.Hour), tr.at.Add(48*time.Hour), 5000)
		}
	}
	return shortest
}

// zoneBounds is t.ZoneBounds with a workaround for golang/go#81583: in a
// leap year after a zone's last explicit transition (so from 2037 on, where Go
// derives periods from the zone's rule), Go reports the period around New
// Year as ending at 00:00 UTC on December 31, before t itself, and keeps doing
// so for every t of that day. Walking periods would then stand still. The
// offset Go reports is right; the period really runs to 00:00 UTC on January 1,
// where Go starts the next one with the same offset.
func zoneBounds(t time.Time) (start, end time.Time) {
	start, end = t.ZoneBounds()
	if !end.IsZero() && !end.After(t) {
		end = time.Date(t.UTC().Year()+1, time.January, 1, 0, 0, 0, 0, time.UTC).In(t.Location())
	}
	return start, end
}

// transition is a change of UTC offset in a zone.
type transition struct {
	at                time.Time
	before, afterward int // UTC offsets in seconds
}

// transitions lists the offset changes of loc in [from, to).
func transitions(loc *time.Location, from, to time.Time) []transition {
	var out []transition
	t := from.In(loc)
	for {
		_, off := t.Zone()
		_, end := zoneBounds(t)
		if end.IsZero() || !end.Before(to) || !end.After(t) {
			return out
		}
		_, next := end.In(loc).Zone()
		if next != off {
			out = append(out, transition{at: end, before: off, afterward: next})
		}
		t = end.In(loc)
	}
}
