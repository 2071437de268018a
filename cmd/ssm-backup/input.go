package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ssm-backup/ssm-backup/policies"
)

// readPolicyFiles expands PATH arguments — files, or directories whose
// *.yaml and *.yml files are read, in name order — into policy files.
// A path that does not exist is a usage error.
func readPolicyFiles(paths []string) ([]policies.File, error) {
	if len(paths) == 0 {
		return nil, usageError("no policy path given: pass a policy file or a directory of *.yaml files")
	}
	var names []string
	seen := map[string]bool{}
	add := func(p string) {
		clean := filepath.ToSlash(filepath.Clean(p))
		if !seen[clean] {
			seen[clean] = true
			names = append(names, clean)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, usageError("cannot read %s: %s", p, describeFSError(err))
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, usageError("cannot read directory %s: %s", p, describeFSError(err))
		}
		var found []string
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.Type().IsRegular() && (ext == ".yaml" || ext == ".yml") {
				found = append(found, filepath.Join(p, e.Name()))
			}
		}
		if len(found) == 0 {
			return nil, usageError("directory %s holds no *.yaml or *.yml policy file", p)
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	var files []policies.File
	for _, n := range names {
		data, err := os.ReadFile(filepath.FromSlash(n))
		if err != nil {
			return nil, usageError("cannot read %s: %s", n, describeFSError(err))
		}
		files = append(files, policies.File{Name: n, Data: data})
	}
	return files, nil
}

func describeFSError(err error) string {
	switch {
	case os.IsNotExist(err):
		return "no such file or directory"
	case os.IsPermission(err):
		return "permission denied"
	}
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return fmt.Sprint(err)
}
