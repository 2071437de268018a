package schedule

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Kind of expression.
type Kind int

const (
	// Cron is a cron(...) expression: runs at wall-clock times in the window's time zone.
	Cron Kind = iota + 1
	// Rate is a rate(...) expression: runs at a fixed interval.
	Rate
	// At is an at(...) expression: runs once.
	At
)

// String returns the expression keyword of the kind: "cron", "rate" or "at".
func (k Kind) String() string {
	switch k {
	case Cron:
		return "cron"
	case Rate:
		return "rate"
	case At:
		return "at"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MaxLength is the longest schedule expression Systems Manager accepts, in
// bytes (CreateMaintenanceWindow: Schedule, "Length Constraints: Minimum length
// of 1. Maximum length of 256.").
const MaxLength = 256

// MinimumInterval is the shortest gap between two runs that this package lets
// through. "Reference: Cron and rate expressions for Systems Manager" says
// "Cron expressions that lead to rates faster than five (5) minute aren't
// supported." For rate() it lists minute as a unit, so rate(1 minute) looks
// legal there; where the two disagree we keep the stricter rule and apply the
// five-minute floor to rate() as well.
const MinimumInterval = 5 * time.Minute

// Error is a problem in an expression. Offset is the 0-based byte offset in the
// expression string where the problem starts (so the caller can turn it into a
// file column), Length how many bytes it spans (>=1). Message is a complete
// sentence fragment for a person, e.g. `day-of-week value 8 is out of range 1-7 (1 = Sunday)`;
// Hint is optional advice (e.g. `use "?" in day-of-month when day-of-week is set`).
type Error struct {
	Offset, Length int
	Message, Hint  string
}

// Error returns the message, followed by the hint when there is one.
func (e *Error) Error() string {
	if e.Hint == "" {
		return e.Message
	}
	return e.Message + "; " + e.Hint
}

// Schedule is a parsed expression.
type Schedule struct {
	text string
	kind Kind

	cron *cronSpec

	rateValue int
	rateUnit  string // singular: "minute", "hour" or "day"
	interval  time.Duration

	// at is the one-time run as a wall-clock reading, stored as a UTC time
	// whose fields are the local date and clock (see wallclock.go).
	at time.Time
}

// Kind reports whether s is a cron, rate or at expression.
func (s *Schedule) Kind() Kind { return s.kind }

// String returns the expression as it was given, without surrounding white space.
func (s *Schedule) String() string { return s.text }

// ValidateOffset checks a maintenance window's ScheduleOffset against s.
// Zero means no offset. CreateMaintenanceWindow allows 1 to 6 days, and
// "Reference: Cron and rate expressions for Systems Manager" says offsets are
// supported "for cron expressions only".
func (s *Schedule) ValidateOffset(days int) error {
	if days == 0 {
		return nil
	}
	if s.kind != Cron {
		return fmt.Errorf("a schedule offset can only be used with a cron expression, not with %s()", s.kind)
	}
	if days < 1 || days > 6 {
		return fmt.Errorf("schedule offset %d is out of range 1-6 days", days)
	}
	return nil
}

// Parse parses a maintenance-window schedule expression. It returns every
// problem it finds, sorted by offset, and a nil Schedule when there is any; the
// errors are nil when the expression is valid. Surrounding white space is
// ignored; offsets still count from the start of expr.
func Parse(expr string) (*Schedule, []*Error) {
	p := &parser{src: expr}
	s := p.parse()
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Offset < p.errs[j].Offset })
		// The same problem can be found twice, e.g. once per "#" in "3#1,6#3".
		errs := p.errs[:1]
		for _, e := range p.errs[1:] {
			if last := errs[len(errs)-1]; *e != *last {
				errs = append(errs, e)
			}
		}
		return nil, errs
	}
	return s, nil
}

// parser collects the problems of one expression.
type parser struct {
	src  string
	errs []*Error
}

func (p *parser) errorf(off, length int, hint, format string, args ...any) {
	if length < 1 {
		length = 1
	}
	p.errs = append(p.errs, &Error{Offset: off, Length: length, Message: fmt.Sprintf(format, args...), Hint: hint})
}

const kindHint = `use cron(...), rate(...) or at(...), e.g. cron(0 2 ? * SUN *)`

func (p *parser) parse() *Schedule {
	start := len(p.src) - len(strings.TrimLeft(p.src, " \t\r\n"))
	text := strings.TrimSpace(p.src)
	if text == "" {
		p.errorf(0, len(p.src), kindHint, "schedule expression is empty")
		return nil
	}
	if len(text) > MaxLength {
		p.errorf(start, len(text), "", "schedule expression is %d bytes long; Systems Manager accepts at most %d", len(text), MaxLength)
	}
	open := strings.IndexByte(text, '(')
	if open < 0 {
		if n := len(strings.Fields(text)); n >= 5 && n <= 7 {
			p.errorf(start, len(text), "write cron("+text+")", "a cron schedule must be wrapped in cron(...)")
		} else {
			p.errorf(start, len(text), kindHint, "%q is not a schedule expression", text)
		}
		return nil
	}
	name := text[:open]
	keyword := asciiLower(strings.TrimSpace(name))
	switch keyword {
	case "cron", "rate", "at":
	default:
		p.errorf(start, max(open, 1), kindHint, "unknown schedule type %q", name)
		return nil
	}
	switch {
	case strings.TrimSpace(name) != name:
		p.errorf(start, open, "write "+keyword+"(...)", "no space is allowed between %q and \"(\"", keyword)
	case name != keyword:
		p.errorf(start, open, "write "+keyword+"(...)", "%q must be written in lower case", name)
	}
	body := text[open+1:]
	switch end := strings.LastIndexByte(text, ')'); {
	case end == len(text)-1:
		body = text[open+1 : end]
	case end > open:
		p.errorf(start+end+1, len(text)-end-1, "", `unexpected %q after the closing ")"`, text[end+1:])
		body = text[open+1 : end]
	default:
		p.errorf(start+len(text), 1, "", `%s expression is missing its closing ")"`, keyword)
	}
	bodyOff := start + open + 1
	if i := strings.IndexAny(body, "()"); i >= 0 {
		p.errorf(bodyOff+i, 1, "", "unexpected %q inside %s(...)", body[i:i+1], keyword)
		return nil
	}
	s := &Schedule{text: text}
	switch keyword {
	case "cron":
		s.kind = Cron
		s.cron = p.parseCron(body, bodyOff)
	case "rate":
		s.kind = Rate
		p.parseRate(s, body, bodyOff)
	case "at":
		s.kind = At
		p.parseAt(s, body, bodyOff)
	}
	return s
}

// token is one white-space separated word of an expression body.
type token struct {
	text string
	off  int // byte offset in the whole expression
}

func (t token) end() int { return t.off + len(t.text) }

// splitFields splits body at runs of spaces and tabs. off is the offset of
// body in the whole expression. AWS says fields "are separated by a space";
// like the Quartz scheduler whose syntax it follows, we accept runs of blanks.
func splitFields(body string, off int) []token {
	var toks []token
	i := 0
	for i < len(body) {
		for i < len(body) && isBlank(body[i]) {
			i++
		}
		j := i
		for j < len(body) && !isBlank(body[j]) {
			j++
		}
		if j > i {
			toks = append(toks, token{text: body[i:j], off: off + i})
		}
		i = j
	}
	return toks
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
