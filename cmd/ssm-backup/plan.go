package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
	"github.com/ssm-backup/ssm-backup/review"
)

type planOptions struct {
	paths   []string
	against string
	output  string
	now     string
}

func newPlanCmd(io *streams) *cobra.Command {
	opts := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan PATH... --against DIR|GITREF",
		Short: "Show what changes against a previous compiled set or git revision, for review",
		Long: `Compile the policies in PATH and compare the result with a previous set:
policies added and removed, schedules (with their next runs), targets,
retention (and whether the next run deletes snapshots the old rule kept),
snapshot settings, IAM permissions granted and withdrawn, resources
CloudFormation would replace, and new warnings.

--against DIR compares with compiled output in DIR (as written by compile).
--against GITREF compiles the same PATHs as they were at that git revision;
a PATH that did not exist there makes every policy in it "added". A
directory by that name wins over a revision.

The plan goes to stdout as Markdown for a pull-request comment, or as JSON
with --output json. A plan is not a failure: the exit status is 0 whatever
changes, 1 when the policies in PATH are invalid, 2 for a usage error.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.paths = args
			return runPlan(cmd.Context(), io, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.against, "against", "", "previous set: a directory of compiled output, or a git revision (required)")
	f.StringVar(&opts.output, "output", "markdown", "format of the plan on stdout: markdown or json")
	f.StringVar(&opts.now, "now", "", "RFC 3339 instant next runs are listed from (default: now)")
	return cmd
}

func runPlan(ctx context.Context, io *streams, opts *planOptions) error {
	if opts.output != "markdown" && opts.output != "json" {
		return usageError("--output must be markdown or json, not %q", opts.output)
	}
	if opts.against == "" {
		return usageError("plan needs --against: a directory of compiled output (e.g. out/) or a git revision (e.g. origin/main)")
	}
	now, err := parseNow(opts.now)
	if err != nil {
		return err
	}
	files, err := readPolicyFiles(opts.paths)
	if err != nil {
		return err
	}
	res := compiler.Compile(files, compiler.Options{Now: now})
	res.Diagnostics.Print(io.err)
	if res.Diagnostics.HasErrors() {
		n := len(res.Diagnostics.Errors())
		return &exitError{code: exitInvalid, err: fmt.Errorf("%d %s; no plan", n, plural(n, "error", "errors"))}
	}

	old, notes, err := previousSet(ctx, io, opts.against, opts.paths, now)
	if err != nil {
		return err
	}
	plan := review.Compare(review.Input{
		Old:     old,
		New:     review.Side{Files: res.Files, Warnings: review.WarningsOf(res.Policies, res.Diagnostics)},
		Now:     now,
		Against: opts.against,
		Notes:   notes,
	})
	out := plan.Markdown()
	if opts.output == "json" {
		if out, err = plan.JSON(); err != nil {
			return err
		}
	}
	_, err = io.out.Write(out)
	return err
}

// previousSet reads the set to compare with: compiled output in a
// directory, or the policies of a git revision compiled in memory.
func previousSet(ctx context.Context, io *streams, against string, paths []string, now time.Time) (review.Side, []string, error) {
	if st, err := os.Stat(against); err == nil && st.IsDir() {
		if ours, err := isOurOutput(against); err != nil || !ours {
			return review.Side{}, nil, usageError("--against %s is a directory, but not one compile wrote (it holds no ssm-backup %s)", against, compiler.SummaryPath)
		}
		tree, err := readTree(against)
		if err != nil {
			return review.Side{}, nil, usageError("cannot read %s: %s", against, describeFSError(err))
		}
		return review.Side{Files: tree}, nil, nil // warnings are read from its summary
	}
	files, err := gitPolicyFiles(ctx, against, paths)
	if err != nil {
		return review.Side{}, nil, err
	}
	if len(files) == 0 {
		return review.Side{Files: compiler.Files{}, Warnings: []review.Warning{}}, nil, nil
	}
	res := compiler.Compile(files, compiler.Options{Now: now})
	if res.Diagnostics.HasErrors() {
		n := len(res.Diagnostics.Errors())
		fmt.Fprintf(io.err, "ssm-backup: the policies at %s do not compile (%d %s); every policy is shown as added:\n", against, n, plural(n, "error", "errors"))
		res.Diagnostics.Errors().Print(io.err)
		note := fmt.Sprintf("the policies at %s do not compile (%d %s), so the plan compares with an empty set", against, n, plural(n, "error", "errors"))
		return review.Side{Files: compiler.Files{}, Warnings: []review.Warning{}}, []string{note}, nil
	}
	return review.Side{Files: res.Files, Warnings: review.WarningsOf(res.Policies, res.Diagnostics)}, nil, nil
}

// git runs git in dir and returns its standard output.
func git(ctx context.Context, dir string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, errors.New(msg)
		}
		return nil, err
	}
	return stdout.Bytes(), nil
}

// gitPolicyFiles reads the policy files that PATHs name at revision rev,
// as readPolicyFiles reads them from the work tree: a file, or the *.yaml
// and *.yml files directly in a directory. Each is named "rev:PATH". A path
// that did not exist at rev contributes nothing.
func gitPolicyFiles(ctx context.Context, rev string, paths []string) ([]policies.File, error) {
	type blob struct{ name, sha, top string }
	var blobs []blob
	seen := map[string]bool{}
	verified := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, usageError("cannot resolve %s: %s", p, err)
		}
		dir := abs
		if st, err := os.Stat(abs); err != nil || !st.IsDir() {
			dir = filepath.Dir(abs)
		}
		out, err := git(ctx, dir, nil, "rev-parse", "--show-toplevel")
		if err != nil {
			return nil, usageError("--against %q is not a directory, and %s is not in a git repository to find that revision in", rev, p)
		}
		top := strings.TrimSpace(string(out))
		if !verified[top] {
			if _, err := git(ctx, top, nil, "rev-parse", "--verify", "--quiet", rev+"^{commit}"); err != nil {
				return nil, usageError("--against %q is neither a directory nor a revision of the git repository %s", rev, top)
			}
			verified[top] = true
		}
		rel, err := repoRelative(top, abs)
		if err != nil {
			return nil, usageError("%s: %s", p, err)
		}
		kind, err := git(ctx, top, nil, "cat-file", "-t", rev+":"+rel)
		if err != nil {
			continue // not there at rev: its policies are all new
		}
		shown := filepath.ToSlash(filepath.Clean(p))
		switch strings.TrimSpace(string(kind)) {
		case "blob":
			sha, err := git(ctx, top, nil, "rev-parse", rev+":"+rel)
			if err != nil {
				return nil, &exitError{code: exitInvalid, err: fmt.Errorf("cannot read %s at %s: %w", p, rev, err)}
			}
			if !seen[shown] {
				seen[shown] = true
				blobs = append(blobs, blob{shown, strings.TrimSpace(string(sha)), top})
			}
		case "tree":
			treeish := rev + ":" + rel
			out, err := git(ctx, top, nil, "ls-tree", "-z", treeish)
			if err != nil {
				return nil, &exitError{code: exitInvalid, err: fmt.Errorf("cannot list %s at %s: %w", p, rev, err)}
			}
			var found []blob
			for _, entry := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
				meta, name, ok := strings.Cut(entry, "\t")
				fields := strings.Fields(meta)
				if !ok || len(fields) != 3 || fields[1] != "blob" {
					continue
				}
				ext := strings.ToLower(path.Ext(name))
				if ext != ".yaml" && ext != ".yml" {
					continue
				}
				found = append(found, blob{path.Join(shown, name), fields[2], top})
			}
			sort.Slice(found, func(i, j int) bool { return found[i].name < found[j].name })
			for _, b := range found {
				if !seen[b.name] {
					seen[b.name] = true
					blobs = append(blobs, b)
				}
			}
		}
	}
	var files []policies.File
	for i := 0; i < len(blobs); {
		// One git process per repository reads its blobs.
		j := i
		for j < len(blobs) && blobs[j].top == blobs[i].top {
			j++
		}
		var names, shas []string
		for _, b := range blobs[i:j] {
			names, shas = append(names, b.name), append(shas, b.sha)
		}
		got, err := catBlobs(ctx, blobs[i].top, rev, names, shas)
		if err != nil {
			return nil, err
		}
		files = append(files, got...)
		i = j
	}
	return files, nil
}

// catBlobs reads blobs by id with one "git cat-file --batch", which answers
// "<id> blob <size>\n<content>\n" for each.
func catBlobs(ctx context.Context, top, rev string, names, shas []string) ([]policies.File, error) {
	out, err := git(ctx, top, strings.NewReader(strings.Join(shas, "\n")+"\n"), "cat-file", "--batch")
	if err != nil {
		return nil, &exitError{code: exitInvalid, err: fmt.Errorf("cannot read the policies at %s: %w", rev, err)}
	}
	r := bufio.NewReader(bytes.NewReader(out))
	var files []policies.File
	for _, name := range names {
		header, err := r.ReadString('\n')
		fields := strings.Fields(header)
		size := -1
		if err == nil && len(fields) == 3 && fields[1] == "blob" {
			size, _ = strconv.Atoi(fields[2])
		}
		if size < 0 {
			return nil, &exitError{code: exitInvalid, err: fmt.Errorf("cannot read %s at %s: git answered %q", name, rev, strings.TrimSpace(header))}
		}
		data := make([]byte, size+1) // the content and its newline
		if _, err := io.ReadFull(r, data); err != nil {
			return nil, &exitError{code: exitInvalid, err: fmt.Errorf("cannot read %s at %s: %w", name, rev, err)}
		}
		files = append(files, policies.File{Name: rev + ":" + name, Data: data[:size]})
	}
	return files, nil
}

// repoRelative is abs relative to the repository root top, slash-separated;
// "" for the root itself. Symbolic links are resolved on both sides, as git
// resolves them.
func repoRelative(top, abs string) (string, error) {
	realTop, err := filepath.EvalSymlinks(top)
	if err != nil {
		realTop = top
	}
	realAbs, err := filepath.EvalSymlinks(abs)
	if err != nil {
		realAbs = abs
	}
	rel, err := filepath.Rel(realTop, realAbs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("is outside the git repository %s", top)
	}
	if rel == "." {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}
