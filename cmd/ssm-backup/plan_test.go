package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ssm-backup/ssm-backup/review"
)

const planNow = "2026-01-01T00:00:00Z"

func readPlanJSON(t *testing.T, stdout string) review.Plan {
	t.Helper()
	var p review.Plan
	if err := json.Unmarshal([]byte(stdout), &p); err != nil {
		t.Fatalf("plan --output json is not JSON: %v\n%s", err, stdout)
	}
	return p
}

func TestPlanAgainstDirectory(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "policies", "p.yaml")
	writeFile(t, pol, validPolicy+"  retention: {count: 14}\n")
	out := filepath.Join(dir, "out")
	if code, _, stderr := run(t, "compile", pol, "-o", out, "--now", planNow); code != 0 {
		t.Fatalf("compile: %d\n%s", code, stderr)
	}

	code, stdout, stderr := run(t, "plan", pol, "--against", out, "--now", planNow)
	if code != 0 || !strings.Contains(stdout, "No changes.") {
		t.Fatalf("unchanged policy: exit %d\n%s\n%s", code, stdout, stderr)
	}

	writeFile(t, pol, validPolicy+"  retention: {count: 7}\n")
	code, stdout, stderr = run(t, "plan", pol, "--against", out, "--now", planNow)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"### Changed: `cli-test`", "keeps the newest 7 snapshot sets", "**Deletes existing snapshots on the next run: yes.**"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}
	code, stdout, _ = run(t, "plan", pol, "--against", out, "--now", planNow, "--output", "json")
	p := readPlanJSON(t, stdout)
	if code != 0 || !p.Changed || p.Counts.Changed != 1 || p.Policies[0].Retention == nil || p.Policies[0].Retention.DeleteAtMostPerInstance != 7 {
		t.Fatalf("json plan: exit %d, %+v", code, p)
	}
}

func TestPlanUsageAndInvalid(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	writeFile(t, pol, validPolicy)
	notOutput := filepath.Join(dir, "not-output")
	writeFile(t, filepath.Join(notOutput, "x.txt"), "x")
	for _, args := range [][]string{
		{"plan", pol}, // no --against
		{"plan", pol, "--against", dir, "--output", "html"}, // bad format
		{"plan", pol, "--against", dir, "--now", "soon"},
		{"plan", pol, "--against", notOutput}, // a directory compile did not write
		{"plan", "--against", dir},            // no PATH
	} {
		if code, _, stderr := run(t, args...); code != exitUsage || stderr == "" {
			t.Errorf("%v: exit %d, want %d; stderr:\n%s", args, code, exitUsage, stderr)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, strings.Replace(validPolicy, "cron(0 0 * * ? *)", "cron(0 0 * *)", 1))
	code, stdout, stderr := run(t, "plan", bad, "--against", "HEAD")
	if code != exitInvalid || stdout != "" || !strings.Contains(stderr, "bad.yaml:12:") {
		t.Errorf("invalid policy: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// gitRepo makes a repository in a temporary directory and returns a
// function that runs git in it.
func gitRepo(t *testing.T) (string, func(args ...string)) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("plan --against GITREF needs git: %v", err)
	}
	dir := t.TempDir()
	gitIn := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	gitIn("init", "-q")
	return dir, gitIn
}

func TestPlanAgainstGitRevision(t *testing.T) {
	repo, gitIn := gitRepo(t)
	pols := filepath.Join(repo, "policies")
	writeFile(t, filepath.Join(pols, "a.yaml"), validPolicy+"  retention: {count: 7}\n")
	writeFile(t, filepath.Join(pols, "b.yaml"), strings.Replace(validPolicy, "name: cli-test", "name: gone", 1))
	writeFile(t, filepath.Join(pols, "notes.txt"), "not a policy")
	gitIn("add", ".")
	gitIn("commit", "-q", "-m", "first")

	// Change a, remove b, add c; plan from a subdirectory, with a relative path.
	writeFile(t, filepath.Join(pols, "a.yaml"), strings.Replace(validPolicy, "cron(0 0 * * ? *)", "cron(0 3 * * ? *)", 1)+"  retention: {count: 7}\n")
	if err := os.Remove(filepath.Join(pols, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(pols, "c.yml"), strings.Replace(validPolicy, "name: cli-test", "name: new-one", 1))
	t.Chdir(pols)
	code, stdout, stderr := run(t, "plan", ".", "--against", "HEAD", "--now", planNow, "--output", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	p := readPlanJSON(t, stdout)
	changes := map[string]string{}
	for _, c := range p.Policies {
		changes[c.Name] = c.Change
	}
	if changes["cli-test"] != review.Changed || changes["gone"] != review.Removed || changes["new-one"] != review.Added || len(changes) != 3 {
		t.Fatalf("changes = %v", changes)
	}
	for _, c := range p.Policies {
		if c.Name == "cli-test" && (c.Schedule == nil || c.Schedule.New.Expression != "cron(0 3 * * ? *)" || len(c.Schedule.New.NextRuns) != 5) {
			t.Errorf("schedule change: %+v", c.Schedule)
		}
	}
	// W001 of cli-test existed at HEAD: not new. new-one's is.
	for _, w := range p.NewWarnings {
		if w.Policy == "cli-test" && w.Code == "W001" {
			t.Errorf("an old warning is reported as new: %+v", w)
		}
	}

	// A path that did not exist at the revision: everything is added.
	other := filepath.Join(repo, "more")
	writeFile(t, filepath.Join(other, "d.yaml"), strings.Replace(validPolicy, "name: cli-test", "name: more", 1))
	code, stdout, stderr = run(t, "plan", other, "--against", "HEAD", "--now", planNow, "--output", "json")
	if p := readPlanJSON(t, stdout); code != 0 || p.Counts.Added != 1 || p.Counts.Removed != 0 {
		t.Fatalf("new path: exit %d, %+v\n%s", code, p.Counts, stderr)
	}

	// Policies that did not compile at the revision: a note, everything added.
	writeFile(t, filepath.Join(other, "d.yaml"), "apiVersion: nonsense\n")
	gitIn("add", ".")
	gitIn("commit", "-q", "-m", "broken")
	writeFile(t, filepath.Join(other, "d.yaml"), strings.Replace(validPolicy, "name: cli-test", "name: more", 1))
	code, stdout, stderr = run(t, "plan", other, "--against", "HEAD", "--now", planNow)
	if code != 0 || !strings.Contains(stderr, "the policies at HEAD do not compile") || !strings.Contains(stderr, "HEAD:") || !strings.Contains(stdout, "### Added: `more`") || !strings.Contains(stdout, "do not compile") {
		t.Fatalf("broken base: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// A single file, and a revision that does not exist.
	code, stdout, _ = run(t, "plan", filepath.Join(pols, "a.yaml"), "--against", "HEAD~1", "--now", planNow, "--output", "json")
	if p := readPlanJSON(t, stdout); code != 0 || p.Counts.Changed != 1 {
		t.Fatalf("single file: exit %d, %+v", code, p.Counts)
	}
	if code, _, stderr := run(t, "plan", ".", "--against", "no-such-branch"); code != exitUsage || !strings.Contains(stderr, "neither a directory nor a revision") {
		t.Fatalf("unknown revision: exit %d\n%s", code, stderr)
	}
}

func TestLintIgnoreDoesNotFailStrict(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	writeFile(t, pol, validPolicy+"  retention: {count: 7}\n")
	if code, _, stderr := run(t, "validate", "--strict", pol); code != exitInvalid || !strings.Contains(stderr, "W001") {
		t.Fatalf("without ignore: exit %d\n%s", code, stderr)
	}
	writeFile(t, pol, validPolicy+"  retention: {count: 7}\n  lint: {ignore: [W001]}\n")
	if code, _, stderr := run(t, "validate", "--strict", pol); code != 0 || strings.Contains(stderr, "W001") {
		t.Fatalf("with ignore: exit %d\n%s", code, stderr)
	}
}

// shellCommands returns the ssm-backup command lines in a shell script:
// each command that starts with the word ssm-backup, up to the next
// operator, as words. Continued lines are joined first.
func shellCommands(t *testing.T, script string) [][]string {
	t.Helper()
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out [][]string
	for _, line := range strings.Split(script, "\n") {
		if i := strings.Index(line, "#"); i >= 0 && (i == 0 || line[i-1] == ' ') {
			line = line[:i]
		}
		var cmd []string
		flush := func() {
			if len(cmd) > 0 && cmd[0] == "ssm-backup" {
				out = append(out, cmd)
			}
			cmd = nil
		}
		for _, w := range shellWords(t, line) {
			switch w {
			case "|", "||", "&&", ";", "&", "$(", "(", ")":
				flush()
			case ">", ">>", "<", "2>", "2>&1":
				flush()
				cmd = []string{"<redirect>"}
			default:
				cmd = append(cmd, w)
			}
		}
		flush()
	}
	return out
}

// shellWords splits a line into words and operators, honouring quotes.
func shellWords(t *testing.T, line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case strings.IndexByte("|&;<>()", c) >= 0:
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
			op := string(c)
			for i+1 < len(line) && strings.IndexByte("|&>", line[i+1]) >= 0 && len(op) < 2 {
				i++
				op += string(line[i])
			}
			words = append(words, op)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if quote != 0 {
		t.Errorf("unterminated quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// checkCommandLine reports a command line that runs no command of the real
// command tree, or that gives it flags it does not have.
func checkCommandLine(t *testing.T, where string, words []string) {
	t.Helper()
	if err := commandLineError(words); err != nil {
		t.Errorf("%s: %q: %v", where, strings.Join(words, " "), err)
	}
}

// commandLineError finds the command words run and parses its flags as
// cobra will when it runs.
func commandLineError(words []string) error {
	root := newRootCmd(&streams{})
	cmd, rest, err := root.Find(words[1:])
	if err != nil {
		return err
	}
	if cmd == root {
		return fmt.Errorf("runs no ssm-backup command")
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return err
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return err
	}
	if f := cmd.Flags().Lookup("output"); f != nil && f.Changed {
		valid := map[string][]string{"plan": {"markdown", "json"}, "validate": {outputText, outputJSON}, "compile": {outputText, outputJSON}}[cmd.Name()]
		if !slices.Contains(valid, f.Value.String()) {
			return fmt.Errorf("--output %s is not one of %v", f.Value, valid)
		}
	}
	return nil
}

// TestCIExamples checks the files in examples/ci: the workflow is valid
// YAML with jobs, and every ssm-backup command the workflow and the
// pre-commit hooks run exists, with the flags they give it.
func TestCIExamples(t *testing.T) {
	dir := filepath.Join("..", "..", "examples", "ci")
	var workflow struct {
		Name string
		On   yaml.Node
		Jobs map[string]struct {
			RunsOn string `yaml:"runs-on"`
			Steps  []struct {
				Name string
				Uses string
				Run  string
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "github-workflow.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &workflow); err != nil {
		t.Fatalf("github-workflow.yaml: %v", err)
	}
	if workflow.Name == "" || workflow.On.Kind == 0 || len(workflow.Jobs) == 0 {
		t.Fatalf("github-workflow.yaml lacks name, on or jobs: %+v", workflow)
	}
	seen := map[string]bool{}
	for id, job := range workflow.Jobs {
		if job.RunsOn == "" || len(job.Steps) == 0 {
			t.Errorf("job %s has no runs-on or steps", id)
		}
		for _, st := range job.Steps {
			if (st.Run == "") == (st.Uses == "") {
				t.Errorf("step %q must have exactly one of run and uses", st.Name)
			}
			for _, words := range shellCommands(t, st.Run) {
				checkCommandLine(t, "github-workflow.yaml step "+st.Name, words)
				seen[words[1]] = true
			}
		}
	}
	for _, c := range []string{"validate", "compile", "plan"} {
		if !seen[c] {
			t.Errorf("github-workflow.yaml does not run ssm-backup %s", c)
		}
	}

	var hooks []struct {
		ID            string   `yaml:"id"`
		Name          string   `yaml:"name"`
		Entry         string   `yaml:"entry"`
		Args          []string `yaml:"args"`
		Language      string   `yaml:"language"`
		PassFilenames *bool    `yaml:"pass_filenames"`
	}
	b, err = os.ReadFile(filepath.Join(dir, "pre-commit-hooks.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &hooks); err != nil {
		t.Fatalf("pre-commit-hooks.yaml: %v", err)
	}
	if len(hooks) == 0 {
		t.Fatal("pre-commit-hooks.yaml defines no hook")
	}
	for _, h := range hooks {
		if h.ID == "" || h.Name == "" || h.Language == "" || h.Entry == "" {
			t.Errorf("hook %+v lacks id, name, language or entry", h)
			continue
		}
		words := append(shellWords(t, h.Entry), h.Args...)
		if words[0] != "ssm-backup" {
			t.Errorf("hook %s runs %q, not ssm-backup", h.ID, words[0])
			continue
		}
		checkCommandLine(t, "pre-commit hook "+h.ID, words)
	}

	var settings map[string]any
	b, err = os.ReadFile(filepath.Join(dir, "vscode-settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &settings); err != nil {
		t.Fatalf("vscode-settings.json: %v", err)
	}
	schemas, _ := settings["yaml.schemas"].(map[string]any)
	if len(schemas) == 0 {
		t.Fatal("vscode-settings.json maps no schema (yaml.schemas)")
	}
	for schema := range schemas {
		if !strings.HasSuffix(schema, "policy.schema.json") {
			t.Errorf("vscode-settings.json maps %q, not the policy schema", schema)
		}
	}
}

// TestShellCommands checks the parser the CI test relies on.
func TestShellCommands(t *testing.T) {
	got := shellCommands(t, "go install x/cmd/ssm-backup@latest\n"+
		"ssm-backup validate policies --output json > v.json || status=$?\n"+
		"ssm-backup plan \"a b\" --against \\\n  origin/main | tee p.md # ssm-backup schema\n")
	want := [][]string{{"ssm-backup", "validate", "policies", "--output", "json"}, {"ssm-backup", "plan", "a b", "--against", "origin/main"}}
	if len(got) != len(want) || strings.Join(got[0], "|") != strings.Join(want[0], "|") || strings.Join(got[1], "|") != strings.Join(want[1], "|") {
		t.Fatalf("shellCommands = %q, want %q", got, want)
	}
	// A command or flag that does not exist is caught.
	for _, words := range [][]string{
		{"ssm-backup", "plan", "--against-dir", "x"},
		{"ssm-backup", "planet", "x"},
		{"ssm-backup", "--strict"},
		{"ssm-backup", "validate", "--output", "yaml"},
	} {
		if commandLineError(words) == nil {
			t.Errorf("%q was not reported", words)
		}
	}
	if err := commandLineError([]string{"ssm-backup", "compile", "p", "-o", "out", "--check", "--output", "json"}); err != nil {
		t.Errorf("a valid command line was reported: %v", err)
	}
}
