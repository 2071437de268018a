package schedule

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
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
// The zone rules come from the IANA tz database embedded in this package
// (tzdata/zoneinfo.zip, release 2025c), never from the machine's: the same
// policy gets the same next runs, warnings and compiled output on every
// machine, whatever its operating system ships.
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
	loc, err := embeddedLocation(name)
	if err != nil {
		return nil, fail(suggestZone(name, example), "unknown time zone %q", name)
	}
	return loc, nil
}

// zoneinfoZip is Go's lib/time/zoneinfo.zip (IANA tz database 2025c, from
// Go 1.26.8), whose entries are the compiled zone files by name.
//
//go:embed tzdata/zoneinfo.zip
var zoneinfoZip []byte

var (
	zoneIndexOnce sync.Once
	zoneIndex     map[string]*zip.File
	zoneIndexErr  error
	zoneCache     sync.Map // name → *time.Location
)

// embeddedLocation loads a zone from zoneinfoZip.
func embeddedLocation(name string) (*time.Location, error) {
	if loc, ok := zoneCache.Load(name); ok {
		return loc.(*time.Location), nil
	}
	zoneIndexOnce.Do(func() {
		r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
		if err != nil {
			zoneIndexErr = err
			return
		}
		zoneIndex = make(map[string]*zip.File, len(r.File))
		for _, f := range r.File {
			zoneIndex[f.Name] = f
		}
	})
	if zoneIndexErr != nil {
		return nil, zoneIndexErr
	}
	f, ok := zoneIndex[name]
	if !ok {
		return nil, fmt.Errorf("unknown time zone %s", name)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocationFromTZData(name, data)
	if err != nil {
		return nil, err
	}
	zoneCache.Store(name, loc)
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
		if _, err := embeddedLocation(c); err == nil {
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
