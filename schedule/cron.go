package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The cron dialect, from "Reference: Cron and rate expressions for Systems
// Manager" (maintenance windows), with the EventBridge "Cron expressions
// reference" filling in what it leaves unsaid:
//
//	field          values             wildcards
//	[seconds]      0-59               , - * /
//	minutes        0-59               , - * /
//	hours          0-23               , - * /
//	day-of-month   1-31               , - * ? / L W
//	month          1-12 or JAN-DEC    , - * /
//	day-of-week    1-7 or SUN-SAT     , - * ? / L #   (1 = Sunday)
//	year           1970-2199          , - * /
//
// Seconds: "Cron expressions for maintenance windows have six required
// fields ... An additional field, the Seconds field (the first in a cron
// expression), is optional", and maintenance windows "support all cron and
// rate expressions. This includes support for values in the seconds field",
// e.g. cron(24 30 09 ? * * *) runs at 9:30:24 AM. The page never lists the
// seconds values. Its history (the awsdocs/aws-systems-manager-user-guide
// repository) said "including values other than 0 (zero) in the seconds
// field" in 2018-2020, then "(Note: Zero (0) isn't supported in the seconds
// field.)" from May 2020 until that note was dropped in August 2021. We read
// the current text: 0-59, with the same syntax as minutes. The five-minute
// floor (MinimumInterval) rejects any seconds field that would make runs
// closer than that, so in practice it holds a single value.
//
// "?": "You can't specify a value in the day-of-month and in the day-of-week
// fields in the same cron expression. If you specify a value in one of the
// fields, use a ? (question mark) in the other field", and "Use the question
// mark (?) character in one of these fields". EventBridge adds "You can't use
// * in both the Day-of-month and Day-of-week fields". So exactly one of the
// two must be "?", and "?" must be the whole field.
//
// "L": in day-of-month the last day of the month; in day-of-week "the last
// day of the ... week", i.e. Saturday (7); "5L" in day-of-week is the last
// Thursday of the month (AWS's example: "cron(15 10 ? * 6L *) 10:15 AM on the
// last Friday of every month"). "W": "3W specifies the day closest to the
// third weekday of the month", i.e. the weekday nearest the 3rd, never
// crossing into another month. "LW" (last weekday of the month) is not in
// AWS's text but is part of the Quartz dialect AWS's syntax comes from; we
// accept it. "#": "followed by a number between one and five specifies a given
// day of the month. 5#3 specifies the 3rd Friday", and EventBridge: "If you use
// the '#' character, you can define only one expression in the day-of-week
// field. For example, "3#1,6#3" is not valid". Like Quartz we let W, L, LW,
// nL and n#k only stand alone in their field.
//
// Not accepted because AWS documents none of them and a wrong guess would only
// surface when the deployment fails: Quartz's "L-3" (third-last day), ranges
// that wrap around (22-2), and "/" steps larger than the field's largest
// value.

type fieldID int

const (
	fSeconds fieldID = iota
	fMinutes
	fHours
	fDayOfMonth
	fMonth
	fDayOfWeek
	fYear
)

type fieldDef struct {
	name     string
	min, max int
	maxStep  int
	names    map[string]int
}

var monthNames = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}

var weekdayNames = map[string]int{
	"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7,
}

const (
	firstYear = 1970
	lastYear  = 2199
)

var fieldDefs = [...]fieldDef{
	fSeconds:    {name: "seconds", min: 0, max: 59, maxStep: 59},
	fMinutes:    {name: "minutes", min: 0, max: 59, maxStep: 59},
	fHours:      {name: "hours", min: 0, max: 23, maxStep: 23},
	fDayOfMonth: {name: "day-of-month", min: 1, max: 31, maxStep: 31},
	fMonth:      {name: "month", min: 1, max: 12, maxStep: 12, names: monthNames},
	fDayOfWeek:  {name: "day-of-week", min: 1, max: 7, maxStep: 7, names: weekdayNames},
	fYear:       {name: "year", min: firstYear, max: lastYear, maxStep: lastYear - firstYear},
}

type domKind int

const (
	domValues         domKind = iota // a set of days
	domLast                          // L
	domLastWeekday                   // LW
	domNearestWeekday                // 15W
)

type dowKind int

const (
	dowValues dowKind = iota // a set of weekdays (L alone is Saturday)
	dowLast                  // 5L: the last Thursday of the month
	dowNth                   // 3#2: the second Tuesday of the month
)

// cronField is one parsed field.
type cronField struct {
	tok      token
	question bool   // the field is "?"
	values   bitset // value-min of every listed value
	star     bool   // the field is "*"

	dom domKind
	dow dowKind
	day int // the day of 15W, or the weekday of 5L and 3#2
	nth int // the 2 of 3#2
	bad bool
}

// cronSpec is a cron expression ready to evaluate.
type cronSpec struct {
	hasSeconds bool
	seconds    uint64 // bit s
	minutes    uint64 // bit m
	hours      uint64 // bit h
	months     uint64 // bit m, 1-12
	years      bitset // bit y-1970
	useDOW     bool   // day-of-month is "?", so day-of-week decides
	domDays    uint64 // bit d, 1-31, for domValues
	dowDays    uint64 // bit d, 1-7, for dowValues
	fields     [7]*cronField
}

func (c *cronSpec) dom() *cronField { return c.fields[fDayOfMonth] }
func (c *cronSpec) dow() *cronField { return c.fields[fDayOfWeek] }

func (p *parser) parseCron(body string, off int) *cronSpec {
	const shape = "minutes hours day-of-month month day-of-week year"
	toks := splitFields(body, off)
	switch n := len(toks); {
	case n == 0:
		p.errorf(off, len(body), "e.g. cron(0 2 ? * SUN *)", "cron() needs 6 fields: %s", shape)
		return nil
	case n < 6:
		hint := "Systems Manager cron has no seconds-only or five-field form; e.g. cron(0 2 * * ? *)"
		if n == 5 {
			hint = "add the year field at the end, and \"?\" in day-of-month or day-of-week, e.g. cron(0 2 * * ? *)"
		}
		p.errorf(toks[0].off, toks[n-1].end()-toks[0].off, hint,
			"cron expression has %d fields; Systems Manager needs 6 (%s), optionally preceded by seconds", n, shape)
		return nil
	case n > 7:
		p.errorf(toks[7].off, toks[n-1].end()-toks[7].off, "",
			"cron expression has %d fields; Systems Manager accepts 6 (%s), or 7 with seconds first", n, shape)
		return nil
	}
	spec := &cronSpec{hasSeconds: len(toks) == 7}
	first := fMinutes
	if spec.hasSeconds {
		first = fSeconds
	}
	bad := false
	for i, tok := range toks {
		id := first + fieldID(i)
		f := p.parseField(id, tok)
		spec.fields[id] = f
		bad = bad || f.bad
	}
	if !spec.hasSeconds {
		spec.fields[fSeconds] = &cronField{} // six fields: second 0
		spec.fields[fSeconds].values.set(0)
	}
	dom, dow := spec.dom(), spec.dow()
	switch {
	case dom.question && dow.question:
		p.errorf(dow.tok.off, len(dow.tok.text), `use "?" in only one of them, e.g. cron(0 2 * * ? *) or cron(0 2 ? * MON *)`,
			`day-of-month and day-of-week cannot both be "?"`)
		bad = true
	case !dom.question && !dow.question:
		if dom.star && dow.star {
			p.errorf(dow.tok.off, len(dow.tok.text), `use "?" in day-of-week, e.g. cron(0 2 * * ? *)`,
				`one of day-of-month and day-of-week must be "?"`)
		} else if dom.star {
			p.errorf(dom.tok.off, len(dom.tok.text), `use "?" in day-of-month when day-of-week is set`,
				`one of day-of-month and day-of-week must be "?"`)
		} else {
			p.errorf(dow.tok.off, len(dow.tok.text), `use "?" in day-of-week when day-of-month is set`,
				`one of day-of-month and day-of-week must be "?"`)
		}
		bad = true
	}
	if bad {
		return nil
	}
	spec.compile()
	p.checkFrequency(spec)
	return spec
}

// compile turns the parsed fields into the bit masks the evaluator uses.
func (c *cronSpec) compile() {
	mask := func(id fieldID) uint64 {
		var m uint64
		def := fieldDefs[id]
		f := c.fields[id]
		for v := def.min; v <= def.max; v++ {
			if f.values.has(v - def.min) {
				m |= 1 << uint(v)
			}
		}
		return m
	}
	c.seconds = mask(fSeconds)
	c.minutes = mask(fMinutes)
	c.hours = mask(fHours)
	c.months = mask(fMonth)
	c.years = c.fields[fYear].values
	c.useDOW = c.dom().question
	if c.useDOW {
		c.dowDays = mask(fDayOfWeek)
	} else {
		c.domDays = mask(fDayOfMonth)
	}
}

func (p *parser) parseField(id fieldID, tok token) *cronField {
	def := fieldDefs[id]
	f := &cronField{tok: tok, star: tok.text == "*"}
	errorf := func(off, length int, hint, format string, args ...any) {
		f.bad = true
		p.errorf(off, length, hint, format, args...)
	}
	dayField := id == fDayOfMonth || id == fDayOfWeek
	if tok.text == "?" {
		if !dayField {
			errorf(tok.off, 1, "", `"?" is only allowed in day-of-month or day-of-week`)
		}
		f.question = true
		return f
	}
	items := strings.Split(tok.text, ",")
	pos := tok.off
	for _, it := range items {
		itOff := pos
		pos += len(it) + 1
		switch {
		case it == "":
			errorf(max(itOff-1, tok.off), 1, "", "empty value in %s list %q", def.name, tok.text)
			continue
		case strings.Contains(it, "?"):
			if dayField {
				errorf(itOff, len(it), `write "?" on its own`, `"?" must be the whole %s field`, def.name)
			} else {
				errorf(itOff, len(it), "", `"?" is only allowed in day-of-month or day-of-week`)
			}
			continue
		}
		if id == fDayOfMonth || id == fDayOfWeek {
			if handled := p.parseSpecial(f, id, it, itOff, len(items) > 1, errorf); handled {
				continue
			}
		}
		p.parseItem(f, id, it, itOff, errorf)
	}
	return f
}

type errorFunc func(off, length int, hint, format string, args ...any)

// parseSpecial handles L, LW, nW (day-of-month) and L, nL, n#k (day-of-week).
// It reports whether item was one of them.
func (p *parser) parseSpecial(f *cronField, id fieldID, item string, off int, inList bool, errorf errorFunc) bool {
	up := asciiUpper(item)
	alone := func(what string) bool {
		if inList {
			if strings.Contains(what, "#") {
				errorf(f.tok.off, len(f.tok.text), `e.g. 3#1; "3#1,6#3" is not valid`, `"#" allows only one expression in day-of-week`)
			} else {
				errorf(off, len(item), "", "%q cannot be combined with other values in %s", item, fieldDefs[id].name)
			}
			return false
		}
		return true
	}
	if id == fDayOfMonth {
		switch {
		case up == "L":
			if alone(item) {
				f.dom = domLast
			}
			return true
		case up == "LW":
			if alone(item) {
				f.dom = domLastWeekday
			}
			return true
		case strings.HasPrefix(up, "L-"):
			errorf(off, len(item), `use "L" for the last day of the month`, "%q (days before the last) is not supported by Systems Manager", item)
			return true
		case strings.HasSuffix(up, "W"):
			n := up[:len(up)-1]
			if !isDigits(n) {
				if n == "" {
					errorf(off, len(item), "e.g. 15W", `"W" needs a day before it`)
				} else {
					errorf(off, len(item), "e.g. 15W", `"W" takes a single day`)
				}
				return true
			}
			d, _ := strconv.Atoi(n)
			if len(n) > 2 || d < 1 || d > 31 {
				errorf(off, len(n), "", "day-of-month value %s is out of range 1-31", n)
				return true
			}
			if alone(item) {
				f.dom, f.day = domNearestWeekday, d
			}
			return true
		case strings.Contains(up, "#"):
			errorf(off+strings.IndexByte(up, '#'), 1, "", `"#" is only allowed in day-of-week`)
			return true
		case strings.Contains(up, "W"):
			errorf(off, len(item), "e.g. 15W", `"W" takes a single day`)
			return true
		case strings.HasSuffix(up, "L") && isDigits(up[:len(up)-1]):
			errorf(off, len(item), `use "L" for the last day of the month; "5L" (the last Thursday) belongs in day-of-week`, "%q is not valid in day-of-month", item)
			return true
		}
		return false
	}

	// Day-of-week.
	switch {
	case up == "L":
		if alone(item) {
			f.values.set(7 - 1) // the last day of the week: Saturday
		}
		return true
	case strings.Contains(up, "#"):
		i := strings.IndexByte(up, '#')
		left, right := item[:i], item[i+1:]
		d, ok := p.weekday(left, off, "#", errorf)
		if !ok {
			return true
		}
		if !isDigits(right) {
			errorf(off+i, len(item)-i, "e.g. 3#2 for the second Tuesday", `"#" must be followed by a number 1-5`)
			return true
		}
		k, _ := strconv.Atoi(right)
		if len(right) > 1 || k < 1 || k > 5 {
			errorf(off+i, len(item)-i, "a month has at most five of any weekday", "%q is out of range: the number after \"#\" must be 1-5", "#"+right)
			return true
		}
		if alone("#") {
			f.dow, f.day, f.nth = dowNth, d, k
		}
		return true
	case strings.HasSuffix(up, "L"):
		d, ok := p.weekday(item[:len(item)-1], off, "L", errorf)
		if ok && alone(item) {
			f.dow, f.day = dowLast, d
		}
		return true
	case up == "W" || up == "LW" || strings.HasSuffix(up, "W") && isDigits(up[:len(up)-1]):
		errorf(off+len(up)-1, 1, "", `"W" is only allowed in day-of-month`)
		return true
	}
	return false
}

// weekday parses the day before "#" or "L": 1-7 or SUN-SAT.
func (p *parser) weekday(s string, off int, marker string, errorf errorFunc) (int, bool) {
	example := "e.g. 6L for the last Friday of the month"
	if marker == "#" {
		example = "e.g. 3#2 for the second Tuesday of the month"
	}
	if s == "" {
		errorf(off, 1, example, "a weekday is missing before %q", marker)
		return 0, false
	}
	if strings.ContainsAny(s, "*-/,") {
		errorf(off, len(s)+1, example, "%q takes a single weekday", marker)
		return 0, false
	}
	if isDigits(s) {
		d, _ := strconv.Atoi(s)
		if len(s) > 1 || d < 1 || d > 7 {
			errorf(off, len(s), weekdayRangeHint(s), "day-of-week value %s is out of range 1-7 (1 = Sunday)", s)
			return 0, false
		}
		return d, true
	}
	if d, ok := weekdayNames[asciiUpper(s)]; ok {
		return d, true
	}
	errorf(off, len(s), nameHint(fDayOfWeek, s), "%q is not a day-of-week name", s)
	return 0, false
}

// parseItem parses one list item: *, a, a-b, */n, a/n or a-b/n.
func (p *parser) parseItem(f *cronField, id fieldID, item string, off int, errorf errorFunc) {
	def := fieldDefs[id]
	rangeText, stepText := item, ""
	stepOff := 0
	if i := strings.IndexByte(item, '/'); i >= 0 {
		rangeText, stepText, stepOff = item[:i], item[i+1:], off+i+1
		if rangeText == "" {
			errorf(off, 1, "e.g. 0/15 or */15", `"/" needs a starting value before it`)
			return
		}
		if strings.IndexByte(stepText, '/') >= 0 {
			errorf(off+i+1+strings.IndexByte(stepText, '/'), 1, "", `only one "/" is allowed in %q`, item)
			return
		}
	}
	var lo, hi int
	ok := true
	switch j := strings.IndexByte(rangeText, '-'); {
	case rangeText == "*":
		lo, hi = def.min, def.max
	case j == 0:
		errorf(off, len(rangeText), "", "%s value %s is out of range %d-%d%s", def.name, rangeText, def.min, def.max, rangeSuffix(id))
		return
	case j > 0:
		a, aok := p.value(id, rangeText[:j], off, errorf)
		b, bok := p.value(id, rangeText[j+1:], off+j+1, errorf)
		if !aok || !bok {
			return
		}
		if a > b {
			errorf(off, len(rangeText), fmt.Sprintf("ranges cannot wrap around; write %d-%d,%d-%d", a, def.max, def.min, b), "%s range %s runs backwards", def.name, rangeText)
			return
		}
		lo, hi = a, b
	default:
		a, aok := p.value(id, rangeText, off, errorf)
		if !aok {
			return
		}
		lo, hi = a, a
		if stepText != "" {
			hi = def.max
		}
	}
	step := 1
	if stepOff != 0 {
		switch {
		case stepText == "":
			errorf(stepOff-1, 1, "e.g. */15", `"/" needs a step after it`)
			ok = false
		case !isDigits(stepText):
			errorf(stepOff, len(stepText), "", "%s step %q is not a number", def.name, stepText)
			ok = false
		default:
			n, err := strconv.Atoi(stepText)
			if err != nil || len(stepText) > 4 || n < 1 || n > def.maxStep {
				errorf(stepOff, len(stepText), "", "%s step %s is out of range 1-%d", def.name, stepText, def.maxStep)
				ok = false
			}
			step = n
		}
	}
	if !ok {
		return
	}
	for v := lo; v <= hi; v += step {
		f.values.set(v - def.min)
	}
}

// value parses a single number or name of field id.
func (p *parser) value(id fieldID, s string, off int, errorf errorFunc) (int, bool) {
	def := fieldDefs[id]
	if s == "" {
		errorf(off, 1, "", "a %s value is missing", def.name)
		return 0, false
	}
	if isDigits(s) {
		n, err := strconv.Atoi(s)
		if err != nil || len(s) > 4 || n < def.min || n > def.max {
			hint := ""
			switch id {
			case fDayOfWeek:
				hint = weekdayRangeHint(s)
			case fHours:
				if n == 24 {
					hint = "use 0 for midnight"
				}
			}
			errorf(off, len(s), hint, "%s value %s is out of range %d-%d%s", def.name, s, def.min, def.max, rangeSuffix(id))
			return 0, false
		}
		return n, true
	}
	if isLetters(s) {
		up := asciiUpper(s)
		if def.names != nil {
			if n, ok := def.names[up]; ok {
				return n, true
			}
			what := "month"
			if id == fDayOfWeek {
				what = "day-of-week"
			}
			errorf(off, len(s), nameHint(id, s), "%q is not a %s name", s, what)
			return 0, false
		}
		switch {
		case (up == "L" || up == "LW" || up == "W") && (id == fDayOfMonth || id == fDayOfWeek):
			errorf(off, len(s), "", "%q must stand alone in %s; it cannot be part of a range, step or list", s, def.name)
		case up == "L" || up == "LW":
			errorf(off, len(s), "", `"L" is only allowed in day-of-month or day-of-week`)
		case up == "W":
			errorf(off, len(s), "", `"W" is only allowed in day-of-month`)
		default:
			errorf(off, len(s), "", "%s takes numbers only, not %q", def.name, s)
		}
		return 0, false
	}
	// A number or name followed by something else: point at the first odd character.
	i := 0
	switch {
	case isDigit(s[0]):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	case isLetter(s[0]):
		for i < len(s) && isLetter(s[i]) {
			i++
		}
	}
	c := s[i]
	switch {
	case (c == 'L' || c == 'l') && id != fDayOfMonth && id != fDayOfWeek:
		errorf(off+i, 1, "", `"L" is only allowed in day-of-month or day-of-week`)
	case (c == 'W' || c == 'w') && id != fDayOfMonth:
		errorf(off+i, 1, "", `"W" is only allowed in day-of-month`)
	case c == '#' && id != fDayOfWeek:
		errorf(off+i, 1, "", `"#" is only allowed in day-of-week`)
	case c == 'L' || c == 'l' || c == 'W' || c == 'w' || c == '#':
		errorf(off, len(s), "", "%q cannot be used in a range, step or list", s)
	default:
		errorf(off+i, 1, "", "unexpected character %q in %s", string(c), def.name)
	}
	return 0, false
}

func rangeSuffix(id fieldID) string {
	if id == fDayOfWeek {
		return " (1 = Sunday)"
	}
	return ""
}

func weekdayRangeHint(s string) string {
	if s == "0" {
		return "Systems Manager numbers the days 1-7 from Sunday; use 1 or SUN for Sunday"
	}
	return "use 1-7 (1 = Sunday) or SUN-SAT"
}

// nameHint suggests the three-letter name for a full or misspelt one.
func nameHint(id fieldID, s string) string {
	up := asciiUpper(s)
	names := monthNames
	list := "use JAN-DEC or 1-12"
	if id == fDayOfWeek {
		names = weekdayNames
		list = "use SUN-SAT or 1-7 (1 = Sunday)"
	}
	if len(up) > 3 {
		if _, ok := names[up[:3]]; ok {
			return fmt.Sprintf("use the three-letter name %q", up[:3])
		}
	}
	return list
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isLetter(s[i]) {
			return false
		}
	}
	return s != ""
}

// checkFrequency enforces the five-minute floor on the times of day that the
// minutes, hours and seconds fields produce (see MinimumInterval).
func (p *parser) checkFrequency(c *cronSpec) {
	const day = 24 * 60 * 60
	first, prev := -1, -1
	gap, gapA, gapB := day, 0, 0
	// Iterating hours, minutes, seconds in order visits the times of day in
	// increasing order; any gap under the floor means at most 288 steps.
	for h := nextBit64(c.hours, 0); h >= 0 && gap*int(time.Second) >= int(MinimumInterval); h = nextBit64(c.hours, h+1) {
		for m := nextBit64(c.minutes, 0); m >= 0; m = nextBit64(c.minutes, m+1) {
			for s := nextBit64(c.seconds, 0); s >= 0; s = nextBit64(c.seconds, s+1) {
				t := h*3600 + m*60 + s
				if first < 0 {
					first = t
				}
				if prev >= 0 && t-prev < gap {
					gap, gapA, gapB = t-prev, prev, t
				}
				prev = t
			}
		}
	}
	if time.Duration(gap)*time.Second >= MinimumInterval && prev >= 0 && first+day-prev < gap && c.hasConsecutiveDays() {
		// The last run of one day and the first of the next.
		gap, gapA, gapB = first+day-prev, prev, first
	}
	if time.Duration(gap)*time.Second >= MinimumInterval {
		return
	}
	f := c.fields[fMinutes]
	if c.hasSeconds && c.fields[fSeconds].values.count() > 1 {
		f = c.fields[fSeconds]
	}
	clock := func(t int) string { return fmt.Sprintf("%02d:%02d:%02d", t/3600, t/60%60, t%60) }
	p.errorf(f.tok.off, len(f.tok.text), "use runs at least 5 minutes apart, e.g. 0/5 in minutes",
		"runs only %s apart (%s and %s); Systems Manager does not support cron expressions that run more often than every 5 minutes",
		formatDuration(time.Duration(gap)*time.Second), clock(gapA), clock(gapB))
}

// hasConsecutiveDays reports whether the day fields ever select two days in
// a row. It looks at up to eight years, the cycle after which the calendar
// (leap years aside, which 2100 breaks only once in range) repeats.
func (c *cronSpec) hasConsecutiveDays() bool {
	y := c.years.next(0)
	if y < 0 {
		return false
	}
	y += firstYear
	prevMatch := false
	for yy := y; yy < y+8 && yy <= lastYear; yy++ {
		if !c.years.has(yy - firstYear) {
			prevMatch = false
			continue
		}
		for m := time.January; m <= time.December; m++ {
			if c.months&(1<<uint(m)) == 0 {
				prevMatch = false
				continue
			}
			mask := c.dayMask(yy, m)
			for d := 1; d <= daysIn(yy, m); d++ {
				match := mask&(1<<uint(d)) != 0
				if match && prevMatch {
					return true
				}
				prevMatch = match
			}
		}
	}
	return false
}

// formatDuration renders d for people: "1 minute", "2 minutes 30 seconds", "1 day".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0 seconds"
	}
	units := []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}}
	var parts []string
	for _, u := range units {
		if n := int64(d / u.size); n > 0 {
			parts = append(parts, plural(int(n), u.name))
			d -= time.Duration(n) * u.size
		}
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}
