package diag

import (
	"bytes"
	"testing"
)

func at(file string, line, col int) Range {
	return Range{File: file, Start: Pos{Line: line, Column: col}, End: Pos{Line: line, Column: col + 1}}
}

func TestSortedOrdersAndDeduplicates(t *testing.T) {
	ds := Diagnostics{
		{Severity: Warning, Code: "W001", Summary: "w", Range: at("b.yaml", 1, 1)},
		{Severity: Error, Summary: "second", Range: at("a.yaml", 3, 5)},
		{Severity: Error, Summary: "first", Range: at("a.yaml", 3, 2)},
		{Severity: Error, Summary: "first", Range: at("a.yaml", 3, 2)},
		{Severity: Warning, Summary: "same place, warning after error", Range: at("a.yaml", 3, 5)},
	}
	got := ds.Sorted()
	want := []string{"first", "second", "same place, warning after error", "w"}
	if len(got) != len(want) {
		t.Fatalf("got %d diagnostics, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Summary != w {
			t.Errorf("position %d: %q, want %q", i, got[i].Summary, w)
		}
	}
	if ds[0].Summary != "w" {
		t.Error("Sorted modified its receiver")
	}
	if !ds.HasErrors() || len(ds.Errors()) != 3 || len(ds.Warnings()) != 2 {
		t.Errorf("HasErrors/Errors/Warnings disagree with the input")
	}
	if (Diagnostics{ds[0]}).HasErrors() {
		t.Error("a warning alone counts as an error")
	}
}

func TestStringAndPrint(t *testing.T) {
	d := Diagnostic{Severity: Error, Summary: `unknown field "retenton" in spec`, Detail: "did you mean \"retention\"?\nsecond line", Range: at("p.yaml", 10, 3)}
	want := "p.yaml:10:3: error: unknown field \"retenton\" in spec\n    did you mean \"retention\"?\n    second line"
	if got := d.String(); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	w := Diagnostic{Severity: Warning, Code: "W005", Summary: "no retention", Range: Range{File: "p.yaml"}}
	if got := w.String(); got != "p.yaml: warning[W005]: no retention" {
		t.Fatalf("position-less warning: %q", got)
	}
	var buf bytes.Buffer
	Diagnostics{w, d}.Print(&buf)
	if buf.String() != w.String()+"\n"+want+"\n" {
		t.Fatalf("Print output:\n%s", buf.String())
	}
}
