package schedule

import (
	"fmt"
	"time"
)

// DSTProblem says how daylight saving time changes a run.
type DSTProblem int

const (
	// Skipped: clocks jump over the run's wall-clock time that day, so it does not run.
	Skipped DSTProblem = iota + 1
	// Repeated: clocks show the run's wall-clock time twice that day; it runs once, at the first.
	Repeated
)

// DSTAmbiguity is a run whose wall-clock time daylight saving time skips or repeats.
type DSTAmbiguity struct {
	Problem DSTProblem
	// Wall is the run's local date and clock reading, as a UTC time whose
	// fields are the local ones: a skipped reading exists in no other form.
	Wall time.Time
	// Run is when a Repeated run happens (the first of its two instants); zero for Skipped.
	Run time.Time
	// Change is the instant the clocks change, in Location.
	Change   time.Time
	Location *time.Location
	// Shift is how far the clocks move: positive forward, negative back.
	Shift time.Duration
}

// String explains the ambiguity in a sentence, e.g. "2026-03-08 02:30 does not
// exist in America/New_York (clocks go forward 1 hour at 02:00); that run is skipped".
func (a DSTAmbiguity) String() string {
	wall := a.Wall.Format("2006-01-02 15:04")
	if a.Wall.Second() != 0 {
		wall = a.Wall.Format("2006-01-02 15:04:05")
	}
	// The local reading at which the clocks change, in the offset before the change.
	_, off := a.Change.Add(-time.Second).In(a.Location).Zone()
	at := a.Change.UTC().Add(time.Duration(off) * time.Second).Format("15:04")
	if a.Problem == Skipped {
		return fmt.Sprintf("%s does not exist in %s (clocks go forward %s at %s); that run is skipped",
			wall, a.Location, formatDuration(a.Shift), at)
	}
	return fmt.Sprintf("%s happens twice in %s (clocks go back %s at %s); it runs once, at the first (%s)",
		wall, a.Location, formatDuration(-a.Shift), at, a.Run.Format("15:04 MST"))
}

// DSTAmbiguities reports the runs of s, evaluated in loc with offsetDays added
// as Next does, that land in a skipped or repeated local hour at a clock
// change between from and from + years. Runs in a skipped hour do not happen;
// runs in a repeated hour happen once (see Next). Rate schedules keep a fixed
// interval and are never affected. An at() schedule is checked whenever it runs.
func DSTAmbiguities(s *Schedule, loc *time.Location, from time.Time, offsetDays, years int) []DSTAmbiguity {
	if loc == nil {
		loc = time.UTC
	}
	switch s.kind {
	case At:
		r := resolve(s.at, loc)
		if r.count == 1 {
			return nil
		}
		for _, tr := range transitions(loc, r.first.Add(-48*time.Hour), r.first.Add(48*time.Hour)) {
			if a, ok := ambiguity(s.at, tr, loc); ok {
				return []DSTAmbiguity{a}
			}
		}
		return nil
	case Cron:
		if s.ValidateOffset(offsetDays) != nil {
			return nil
		}
	default:
		return nil
	}
	const limit = 10_000 // a cron that runs every 5 minutes has 12 per skipped hour
	var out []DSTAmbiguity
	for _, tr := range transitions(loc, from, from.AddDate(years, 0, 0)) {
		lo, hi := affectedReadings(tr)
		// Runs land at cron reading + offset days; find the cron readings.
		cur, end := lo.AddDate(0, 0, -offsetDays), hi.AddDate(0, 0, -offsetDays)
		for len(out) < limit {
			w, ok := s.cron.nextWall(cur)
			if !ok || !w.Before(end) {
				break
			}
			cur = w.Add(time.Second)
			if a, ok := ambiguity(w.AddDate(0, 0, offsetDays), tr, loc); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// affectedReadings returns the wall-clock readings [lo, hi) that a change
// skips (clocks forward) or repeats (clocks back).
func affectedReadings(tr transition) (lo, hi time.Time) {
	at := tr.at.Unix()
	if tr.afterward > tr.before {
		lo = time.Unix(at+int64(tr.before), 0).UTC()
		return lo, lo.Add(time.Duration(tr.afterward-tr.before) * time.Second)
	}
	lo = time.Unix(at+int64(tr.afterward), 0).UTC()
	return lo, lo.Add(time.Duration(tr.before-tr.afterward) * time.Second)
}

func ambiguity(wall time.Time, tr transition, loc *time.Location) (DSTAmbiguity, bool) {
	lo, hi := affectedReadings(tr)
	if wall.Before(lo) || !wall.Before(hi) {
		return DSTAmbiguity{}, false
	}
	a := DSTAmbiguity{
		Problem:  Skipped,
		Wall:     wall,
		Change:   tr.at.In(loc),
		Location: loc,
		Shift:    time.Duration(tr.afterward-tr.before) * time.Second,
	}
	if a.Shift < 0 {
		a.Problem = Repeated
		a.Run = resolve(wall, loc).first
	}
	return a, true
}
