package review

import (
	"fmt"
	"time"
)

// retentionText says in words how many snapshot sets a rule keeps. A set is
// the snapshots one run takes of one instance.
func retentionText(r Retention) string {
	switch r.Rule {
	case RuleCount:
		return fmt.Sprintf("keeps the newest %d %s of each instance", r.KeepCount, plural(r.KeepCount, "snapshot set", "snapshot sets"))
	case RuleMaxAge:
		if r.MinKeep == 0 {
			// AWS Backup and Data Lifecycle Manager keep no floor.
			return fmt.Sprintf("keeps each snapshot for %d %s, then deletes it", r.MaxAgeDays, plural(r.MaxAgeDays, "day", "days"))
		}
		return fmt.Sprintf("keeps each instance's snapshot sets for %d %s, and always %s",
			r.MaxAgeDays, plural(r.MaxAgeDays, "day", "days"), newest(r.MinKeep))
	}
	return "keeps every snapshot set: nothing is deleted"
}

// sameRetention reports whether two rules keep the same sets. minKeep
// matters only under maxAge: a count already keeps at least minKeep.
func sameRetention(a, b Retention) bool {
	if a.Rule != b.Rule {
		return false
	}
	switch a.Rule {
	case RuleCount:
		return a.KeepCount == b.KeepCount
	case RuleMaxAge:
		return a.MaxAgeDays == b.MaxAgeDays && a.MinKeep == b.MinKeep
	}
	return true
}

// runsWithin estimates how many sets a schedule makes in d: the runs in
// [now, now+d). It returns 0 when it cannot tell.
func runsWithin(s *Schedule, now time.Time, d time.Duration) int {
	if s == nil {
		return 0
	}
	parsed, loc, ok := parseSchedule(s)
	if !ok {
		return 0
	}
	const limit = 10000
	n := 0
	for _, t := range parsed.Next(now, loc, s.Offset, limit) {
		if !t.Before(now.Add(d)) {
			break
		}
		n++
	}
	return n
}

// retentionChange explains what a new rule does to the snapshot sets that
// exist when the next run prunes, compared with the old rule. Prune runs
// after each successful run and deletes whole sets; it never deletes the
// run's own set.
func retentionChange(old, new Retention, sched *Schedule, now time.Time) *RetentionChange {
	old.Text, new.Text = retentionText(old), retentionText(new)
	c := &RetentionChange{Old: &old, New: &new}
	day := 24 * time.Hour
	switch {
	case new.Rule == RuleNone:
		c.Explanation = "nothing is deleted any more; snapshot sets accumulate until deleted by hand"
	case old.Rule == RuleNone:
		c.DeletesExisting = true
		switch new.Rule {
		case RuleCount:
			c.Explanation = fmt.Sprintf("the policy had no retention: the next run deletes every snapshot set of each instance but the newest %d, however many have accumulated", new.KeepCount)
		default:
			c.Explanation = fmt.Sprintf("the policy had no retention: the next run deletes every snapshot set older than %d %s (keeping %s of each instance), however many have accumulated",
				new.MaxAgeDays, plural(new.MaxAgeDays, "day", "days"), newest(new.MinKeep))
		}
	case old.Rule == RuleCount && new.Rule == RuleCount:
		if new.KeepCount < old.KeepCount {
			c.DeletesExisting = true
			c.DeleteAtMostPerInstance = old.KeepCount - new.KeepCount
			c.Explanation = fmt.Sprintf("the count goes down from %d to %d: the next run deletes up to %d more %s of each instance than the old rule would (the oldest of those it kept)",
				old.KeepCount, new.KeepCount, c.DeleteAtMostPerInstance, plural(c.DeleteAtMostPerInstance, "set", "sets"))
		} else {
			c.Explanation = fmt.Sprintf("the count goes up from %d to %d: nothing more is deleted; sets are kept longer", old.KeepCount, new.KeepCount)
		}
	case old.Rule == RuleMaxAge && new.Rule == RuleMaxAge:
		oldMin, newMin := max(old.MinKeep, 1), max(new.MinKeep, 1)
		var why []string
		if new.MaxAgeDays < old.MaxAgeDays {
			why = append(why, fmt.Sprintf("maxAge goes down from %d to %d days, so sets between %d and %d days old are deleted", old.MaxAgeDays, new.MaxAgeDays, new.MaxAgeDays, old.MaxAgeDays))
		}
		if newMin < oldMin {
			why = append(why, fmt.Sprintf("minKeep goes down from %d to %d, so up to %d old %s that only the floor kept %s deleted", oldMin, newMin, oldMin-newMin, plural(oldMin-newMin, "set", "sets"), plural(oldMin-newMin, "is", "are")))
			if new.MaxAgeDays >= old.MaxAgeDays {
				c.DeleteAtMostPerInstance = oldMin - newMin
			}
		}
		if len(why) > 0 {
			c.DeletesExisting = true
			c.Explanation = "on the next run, " + joinAnd(why)
		} else {
			c.Explanation = "the rule keeps at least as much as before: nothing more is deleted"
		}
	case old.Rule == RuleCount && new.Rule == RuleMaxAge:
		// The old rule kept the newest KeepCount; the new one keeps those
		// younger than maxAge and at least minKeep.
		if max(new.MinKeep, 1) >= old.KeepCount {
			c.Explanation = fmt.Sprintf("minKeep %d keeps at least the %d sets the old count kept: nothing more is deleted", max(new.MinKeep, 1), old.KeepCount)
			break
		}
		n := runsWithin(sched, now, time.Duration(new.MaxAgeDays)*day)
		kept := max(n, new.MinKeep, 1)
		switch {
		case n > 0 && kept >= old.KeepCount:
			c.Explanation = fmt.Sprintf("the rule changes from a count to an age: at this schedule about %d sets fall within %d %s, at least the %d the old count kept; nothing more is deleted",
				kept, new.MaxAgeDays, plural(new.MaxAgeDays, "day", "days"), old.KeepCount)
		case n > 0:
			c.DeletesExisting = true
			c.Explanation = fmt.Sprintf("the rule changes from a count to an age: at this schedule about %d sets fall within %d %s, and the old count kept %d, so the next run deletes about %d sets of each instance",
				kept, new.MaxAgeDays, plural(new.MaxAgeDays, "day", "days"), old.KeepCount, old.KeepCount-kept)
		default:
			c.DeletesExisting = true
			c.Explanation = fmt.Sprintf("the rule changes from a count to an age: of the %d newest sets the old rule kept, those older than %d %s are deleted on the next run (%s stays)",
				old.KeepCount, new.MaxAgeDays, plural(new.MaxAgeDays, "day", "days"), newest(new.MinKeep))
		}
	case old.Rule == RuleMaxAge && new.Rule == RuleCount:
		n := runsWithin(sched, now, time.Duration(old.MaxAgeDays)*day)
		kept := max(n, max(old.MinKeep, 1))
		if n > 0 && new.KeepCount >= kept {
			c.Explanation = fmt.Sprintf("the rule changes from an age to a count: at this schedule the old rule kept about %d sets, and the count keeps %d; nothing more is deleted", kept, new.KeepCount)
			break
		}
		c.DeletesExisting = true
		if n > 0 {
			c.Explanation = fmt.Sprintf("the rule changes from an age to a count: at this schedule the old rule kept about %d sets of each instance, the new one keeps %d, so the next run deletes about %d",
				kept, new.KeepCount, kept-new.KeepCount)
		} else {
			c.Explanation = fmt.Sprintf("the rule changes from an age to a count: the next run deletes every set of each instance but the newest %d", new.KeepCount)
		}
	}
	return c
}

// newest says "the newest one" or "the newest 3".
func newest(n int) string {
	if n <= 1 {
		return "the newest one"
	}
	return fmt.Sprintf("the newest %d", n)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
