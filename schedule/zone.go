package schedule

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // so every machine knows every zone, whatever its OS ships
)

// LoadLocation loads an IANA time zone name for a maintenance window's
// ScheduleTimezone ("in Internet Assigned Numbers Authority (IANA) format. For
// example: "America/Los_Angeles", "UTC", or "Asia/Seoul"", CreateMaintenanceWindow).
//
// An empty name is an error here; whether a missing time zone means UTC is the
// caller's business. Names that only Go or a zoneinfo directory understands
// are rejected: "Local", POSIX TZ strings, and the non-zone entries of a
// zoneinfo directory (posix/..., right/..., posixrules, localtime, Factory).
// Legacy IANA links such as "US/Eastern" are accepted, as the tz database
// still ships them; AWS does not say whether it does.
//
// Go prefers the system's zoneinfo files when there are any and falls back to
// the copy embedded by time/tzdata, so a machine with an older tz database may
// compute different runs for a zone whose rules changed recently.
//
// The error is an *Error whose range covers the whole name.
func LoadLocation(name string) (*time.Location, error) {
	fail := func(hint, format string, args ...any) error {
		return &Error{Offset: 0, Length: max(len(name), 1), Message: fmt.Sprintf(format, args...), Hint: hint}
	}
	const example = `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`
	switch {
	case name == "":
		return nil, fail(example, "time zone is empty")
	case name == "Local":
		return nil, fail(example, `"Local" means this machine's time zone, which Systems Manager does not know`)
	case strings.TrimSpace(name) != name:
		return nil, fail(fmt.Sprintf("write %q", strings.TrimSpace(name)), "time zone %q has white space around it", name)
	case !zoneNameShape(name):
		return nil, fail(suggestZone(name, example), "%q is not an IANA time zone name", name)
	case notAZone(name):
		return nil, fail(example, "%q is not a time zone that Systems Manager accepts", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fail(suggestZone(name, example), "unknown time zone %q", name)
	}
	return loc, nil
}

// zoneNameShape reports whether name looks like an IANA zone name:
// slash-separated parts of letters, digits, "_", "-" and "+", each starting
// with a letter ("America/Port-au-Prince", "Etc/GMT+5", "EST5EDT").
func zoneNameShape(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || !isLetter(part[0]) {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !isLetter(c) && !isDigit(c) && c != '_' && c != '-' && c != '+' {
				return false
			}
		}
	}
	return true
}

// notAZone reports entries of a zoneinfo directory that load but are not zones.
func notAZone(name string) bool {
	switch name {
	case "Factory", "posixrules", "localtime":
		return true
	}
	for _, prefix := range []string{"posix/", "right/", "SystemV/"} {
		if strings.HasPrefix(name, prefix) {
			return true
		}
	}
	return false
}

// suggestZone offers the canonical spelling of a near miss such as
// "america/new_york" or "Europe/Berlin " → "Europe/Berlin"; otherwise fallback.
func suggestZone(name, fallback string) string {
	clean := strings.ReplaceAll(strings.TrimSpace(name), " ", "_")
	candidates := []string{clean, strings.ToUpper(clean), titleZone(clean)}
	for _, c := range candidates {
		if c == name || !zoneNameShape(c) || notAZone(c) {
			continue
		}
		if _, err := time.LoadLocation(c); err == nil {
			return fmt.Sprintf("did you mean %q?", c)
		}
	}
	return fallback
}

// titleZone capitalizes each word of a zone name: "america/new_york" → "America/New_York".
func titleZone(name string) string {
	b := []byte(strings.ToLower(name))
	start := true
	for i, c := range b {
		if start && c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		start = c == '/' || c == '_' || c == '-'
	}
	return string(b)
}
