package policies

import (
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ssm-backup/ssm-backup/diag"
)

// FuzzLoad feeds arbitrary bytes to the loader and the validator: they must
// never panic, every diagnostic must point into the file, and the
// diagnostics must come out sorted.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"invalid", "valid"} {
		files, err := filepath.Glob(filepath.Join("..", "testdata", dir, "*.yaml"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.yaml"
		ps, loadDiags := LoadFiles([]File{{Name: name, Data: data}})
		validateDiags := Validate(ps)
		for _, ds := range []diag.Diagnostics{loadDiags, validateDiags} {
			if !slices.Equal(ds, ds.Sorted()) {
				t.Errorf("diagnostics are not sorted and unique:\n%s", render(ds))
			}
		}
		for _, d := range append(loadDiags, validateDiags...) {
			if d.Range.File != name {
				t.Errorf("diagnostic %q has file %q, want %q", d.Summary, d.Range.File, name)
			}
			if d.Range.Start.Line < 1 || d.Range.Start.Column < 1 {
				t.Errorf("diagnostic %q is at line %d, column %d; both must be 1 or more", d.Summary, d.Range.Start.Line, d.Range.Start.Column)
			}
			if d.Summary == "" {
				t.Errorf("diagnostic at %d:%d has no summary", d.Range.Start.Line, d.Range.Start.Column)
			}
		}
	})
}

func render(ds diag.Diagnostics) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// fuzzSeeds are edge cases beyond the corpus: odd YAML, empty values,
// extreme numbers and expressions.
var fuzzSeeds = []string{
	"",
	"\n",
	"---\n---\n",
	"~\n",
	"[]\n",
	"{}\n",
	"\"just a string\"\n",
	"apiVersion: ssm-backup/v1\n",
	"apiVersion: [1]\nkind: {a: b}\nmetadata: 3\nspec: true\n",
	"? [a, b]\n: c\n",
	"<<: {apiVersion: ssm-backup/v1}\n",
	"a: &a {b: *a}\n",
	"spec: !!binary aGVsbG8=\n",
	"spec: {schedule: {expression: \"cron(\"}}\n",
	"spec: {schedule: {expression: 'rate(0 minutes)', offset: 99999999999}}\n",
	"spec: {schedule: {expression: \"cron(0 0 ? * MON#9 *)\", timezone: \"\\u00e9\"}}\n",
	"spec: {schedule: {expression: |\n    cron(0 0 * * ? *)\n}}\n",
	"spec: {retention: {count: -1, maxAge: 0s, minKeep: 0}, archive: {after: 99999999999w}}\n",
	"spec: {targets: {tags: {\"\": \"\"}}, tags: {\"aws:x\": \"\\u0000\"}}\n",
	"spec: {apps: [{type: custom, pre: \"\\t\"}, 1, [], {}], mounts: [\"\", \"//\", \"/..\"]}\n",
	"spec:\n  copies:\n  - {}\n  - {region: x, account: 1}\n  - {region: x, account: 1}\n",
	"metadata: {name: \"\\U0001F600\", description: \"a\\u2028b\"}\n",
	"\t- bad indent\n",
	"key: \"unterminated\n",
	"\xff\xfe\x00",
}

// TestLoadMutatedPolicies complements FuzzLoad, whose byte mutations rarely
// keep YAML well formed: it changes valid policies node by node (values
// swapped for odd ones, scalars turned into lists, keys dropped, list items
// repeated) and checks the same properties. The seed is fixed, so the
// inputs are the same on every run.
func TestLoadMutatedPolicies(t *testing.T) {
	var docs []*yaml.Node
	for _, file := range corpusFiles(t, "valid") {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, &n)
	}
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		n := cloneNode(docs[r.Intn(len(docs))])
		mutateNode(r, n)
		data, err := yaml.Marshal(n)
		if err != nil {
			continue
		}
		ds := check("mutated.yaml", data)
		for _, d := range ds {
			if d.Range.File != "mutated.yaml" || d.Range.Start.Line < 1 || d.Range.Start.Column < 1 {
				t.Fatalf("diagnostic %q has range %+v; input:\n%s", d.Summary, d.Range, data)
			}
		}
	}
}

var oddValues = []string{
	"", "0", "-1", "1", "100%", "0%", "101%", "99999999999", "1.5", "~", "true",
	"cron(", "cron(0 0 * * ? *)", "cron(0 0 L * ? *)", "cron(0 0 ? * 6#5 *)", "rate(0 minutes)",
	"rate(5 minutes)", "at(", "at(2020-02-30T00:00:00)", "1h", "25h", "0s", "90d",
	"aws:x", "/", "/data", "..", "linux", "windows", "application", "filesystem", "crash",
	"stopped", "root", "all", "data", "mysql", "postgresql", "custom", "sqlserver",
	"UTC", "Local", "i-12345678", "\t", "a\nb", "{{x}}", "\"", "ü", "%",
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = make([]*yaml.Node, len(n.Content))
	for i, child := range n.Content {
		c.Content[i] = cloneNode(child)
	}
	return &c
}

func mutateNode(r *rand.Rand, n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			mutateNode(r, c)
		}
		if n.Kind == yaml.SequenceNode && len(n.Content) > 0 && r.Intn(10) == 0 {
			n.Content = append(n.Content, n.Content[r.Intn(len(n.Content))])
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			mutateNode(r, n.Content[i])
		}
		if len(n.Content) >= 2 && r.Intn(8) == 0 {
			i := r.Intn(len(n.Content)/2) * 2
			n.Content = append(n.Content[:i], n.Content[i+2:]...)
		}
	case yaml.ScalarNode:
		switch r.Intn(6) {
		case 0:
			n.Value, n.Tag, n.Style = oddValues[r.Intn(len(oddValues))], "", 0
		case 1:
			n.Kind, n.Tag = yaml.SequenceNode, ""
			n.Content = []*yaml.Node{{Kind: yaml.ScalarNode, Value: oddValues[r.Intn(len(oddValues))]}}
		}
	}
}
