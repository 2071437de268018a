package schedule

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadLocation(t *testing.T) {
	for _, name := range []string{"UTC", "America/Los_Angeles", "Asia/Seoul", "Europe/Berlin", "America/Argentina/Buenos_Aires",
		"America/Port-au-Prince", "Etc/GMT+5", "Australia/Lord_Howe", "US/Eastern"} {
		loc, err := LoadLocation(name)
		if err != nil {
			t.Errorf("LoadLocation(%q): %v", name, err)
			continue
		}
		if loc.String() != name {
			t.Errorf("LoadLocation(%q) = %v", name, loc)
		}
	}
	tests := []struct{ name, message, hint string }{
		{"", "time zone is empty", `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{"Local", `"Local" means this machine's time zone, which Systems Manager does not know`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{" UTC", `time zone " UTC" has white space around it`, `write "UTC"`},
		{"america/new_york", `unknown time zone "america/new_york"`, `did you mean "America/New_York"?`},
		{"America/New York", `"America/New York" is not an IANA time zone name`, `did you mean "America/New_York"?`},
		{"Mars/Olympus_Mons", `unknown time zone "Mars/Olympus_Mons"`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{"EST5EDT,M3.2.0,M11.1.0", `"EST5EDT,M3.2.0,M11.1.0" is not an IANA time zone name`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{"../../etc/passwd", `"../../etc/passwd" is not an IANA time zone name`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{"posix/Europe/Berlin", `"posix/Europe/Berlin" is not a time zone that Systems Manager accepts`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{"localtime", `"localtime" is not a time zone that Systems Manager accepts`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
		{"+05:00", `"+05:00" is not an IANA time zone name`, `use an IANA name such as "UTC", "Europe/Berlin" or "America/New_York"`},
	}
	for _, tt := range tests {
		loc, err := LoadLocation(tt.name)
		if err == nil {
			t.Errorf("LoadLocation(%q) = %v, want an error", tt.name, loc)
			continue
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("LoadLocation(%q) error %T is not an *Error", tt.name, err)
			continue
		}
		if e.Message != tt.message || e.Hint != tt.hint || e.Offset != 0 || e.Length != max(len(tt.name), 1) {
			t.Errorf("LoadLocation(%q) = %+v, want message %q hint %q", tt.name, *e, tt.message, tt.hint)
		}
	}
}

// TestLoadLocationIgnoresTheMachine: zones come from the embedded tz
// database, not from ZONEINFO or the system's files, so every machine
// computes the same runs. A ZONEINFO directory that defines Europe/Berlin
// as UTC+14 changes nothing.
func TestLoadLocationIgnoresTheMachine(t *testing.T) {
	dir := t.TempDir()
	utc, err := embeddedLocation("Pacific/Kiritimati") // UTC+14 all year
	if err != nil {
		t.Fatal(err)
	}
	data, err := zoneData("Pacific/Kiritimati")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "Europe"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Europe", "Berlin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ZONEINFO", dir)
	loc, err := LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, time.January, 15, 12, 0, 0, 0, time.UTC)
	if _, off := when.In(loc).Zone(); off != 3600 {
		t.Errorf("Europe/Berlin is UTC%+d in January; want +1h from the embedded database", off/3600)
	}
	if _, off := when.In(utc).Zone(); off != 14*3600 {
		t.Errorf("the control zone is UTC%+d, want +14h", off/3600)
	}
	// What Go's own loader makes of the same machine (it reads ZONEINFO
	// once per process, so this is for the log only).
	if ctl, err := time.LoadLocation("Europe/Berlin"); err == nil {
		_, off := when.In(ctl).Zone()
		t.Logf("time.LoadLocation on this machine gives Europe/Berlin UTC%+d", off/3600)
	}
}

// zoneData is the compiled zone file of name in the embedded database.
func zoneData(name string) ([]byte, error) {
	r, err := zip.NewReader(bytes.NewReader(zoneinfoZip), int64(len(zoneinfoZip)))
	if err != nil {
		return nil, err
	}
	f, err := r.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}
