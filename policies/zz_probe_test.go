package policies

import (
	"os"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	cases := []string{
		"",
		"- a\n- b\n",
		"apiVersion: ssm-backup/v1\nkind: BackupPolicy\nmetadata: {name: \"é x\", description: \"ü\"}\nspec:\n  platform: [linux]\n  retention: {count: x}\n",
		"a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\nspec: {tags: *i}\n",
		"a: b: c\n",
		"spec:\n  tags: {a: 1, a: 2}\n---\n- x\n",
	}
	for _, c := range cases {
		start := time.Now()
		ps, ds := LoadFiles([]File{{Name: "x.yaml", Data: []byte(c)}})
		t.Logf("%d policies in %v", len(ps), time.Since(start))
		ds.Print(os.Stdout)
	}
}
