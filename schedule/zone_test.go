package schedule

import (
	"errors"
	"testing"
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
