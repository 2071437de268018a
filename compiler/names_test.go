package compiler

import "testing"

func TestSetIDNamesTheSetNotTheOrder(t *testing.T) {
	a := setID([]string{"web", "db", "files"})
	if b := setID([]string{"files", "web", "db"}); a != b {
		t.Errorf("the order of the policies changed the set id: %s, %s", a, b)
	}
	if len(a) != 10 {
		t.Errorf("set id %q: want 10 hex digits", a)
	}
	for _, other := range [][]string{{"web", "db"}, {"web", "db", "files", "x"}, {"web", "db", "file"}, {"webdb", "files"}} {
		if setID(other) == a {
			t.Errorf("sets %v and [web db files] share the id %s", other, a)
		}
	}
	p := &Plan{SetID: a}
	if got := p.SharedName(LinuxSnapshotDocument); got != "ssm-backup-linux-snapshot-"+a {
		t.Errorf("SharedName = %q", got)
	}
}
