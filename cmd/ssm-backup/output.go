package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
)

// summaryMarker is how an existing output directory is recognised as ours:
// compile replaces the whole directory, so it refuses to replace one that
// holds anything else (a mistyped -o . must not delete a repository).
const summaryMarker = "# ssm-backup summary"

func isOurOutput(dir string) (bool, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	if len(entries) == 0 {
		return true, nil
	}
	b, err := os.ReadFile(filepath.Join(dir, compiler.SummaryPath))
	if err != nil {
		return false, nil
	}
	return bytes.HasPrefix(b, []byte(summaryMarker)), nil
}

// writeTree replaces dir with exactly the given files, atomically as far as
// the file system allows: the tree is written to a sibling directory first
// and swapped in by renames, so a failure leaves dir as it was.
func writeTree(dir string, files compiler.Files) error {
	ours, err := isOurOutput(dir)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", dir, err)
	}
	if !ours {
		return fmt.Errorf("refusing to replace %s: it is not empty and holds no %s written by ssm-backup; choose an empty or new directory", dir, compiler.SummaryPath)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".new-")
	if err != nil {
		return fmt.Errorf("cannot write next to %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	for _, p := range files.Paths() {
		target := filepath.Join(tmp, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(target, files[p], mode); err != nil {
			return fmt.Errorf("cannot write %s: %w", p, err)
		}
	}
	old := ""
	if _, err := os.Stat(abs); err == nil {
		old = filepath.Join(parent, "."+filepath.Base(abs)+".old-"+fmt.Sprint(time.Now().UnixNano()))
		if err := os.Rename(abs, old); err != nil {
			return fmt.Errorf("cannot replace %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, abs); err != nil {
		if old != "" {
			_ = os.Rename(old, abs)
		}
		return fmt.Errorf("cannot replace %s: %w", dir, err)
	}
	if old != "" {
		_ = os.RemoveAll(old)
	}
	return nil
}

// readTree reads every regular file under dir as slash-separated paths.
func readTree(dir string) (compiler.Files, error) {
	out := compiler.Files{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return compiler.Files{}, nil
	}
	return out, err
}

// compareTree lists how dir differs from want: missing, extra and changed
// files, with a diff of each change.
func compareTree(dir string, want compiler.Files) ([]string, error) {
	have, err := readTree(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", dir, err)
	}
	return DiffFiles(have, want), nil
}

// DiffFiles describes every difference between two trees, sorted by path.
func DiffFiles(have, want compiler.Files) []string {
	var out []string
	paths := map[string]bool{}
	for p := range have {
		paths[p] = true
	}
	for p := range want {
		paths[p] = true
	}
	var sorted []string
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		h, inHave := have[p]
		w, inWant := want[p]
		switch {
		case !inHave:
			out = append(out, "missing: "+p)
		case !inWant:
			out = append(out, "not generated any more: "+p)
		case !bytes.Equal(h, w):
			out = append(out, "changed: "+p+"\n"+cmp.Diff(string(h), string(w)))
		}
	}
	return out
}

// recordedAnchor reads the instant a previous compile listed next runs from.
func recordedAnchor(dir string) (time.Time, bool) {
	f, err := os.Open(filepath.Join(dir, compiler.SummaryPath))
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, compiler.SummaryAnchorPrefix)
		if i < 0 {
			continue
		}
		rest := strings.TrimSuffix(strings.TrimSpace(line[i+len(compiler.SummaryAnchorPrefix):]), ".")
		t, err := time.Parse(time.RFC3339, rest)
		return t, err == nil
	}
	return time.Time{}, false
}
