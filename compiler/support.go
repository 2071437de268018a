package compiler

import (
	"fmt"
	"strings"
	"time"

	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// unsupportedAt is the error for a valid feature this compiler cannot
// generate yet, at the key of path; advice says what to do instead.
func unsupportedAt(src *policies.Source, path, what, advice string) diag.Diagnostic {
	return diag.Diagnostic{
		Severity: diag.Error,
		Summary:  fmt.Sprintf("%s is not yet supported by this compiler", what),
		Detail:   "the policy is valid, but no artifacts can be generated for it yet; " + advice,
		Range:    src.Key(path),
		Path:     path,
	}
}

// CheckSupported reports the parts of the language this compiler cannot
// compile yet. They are errors, never silently ignored: a policy that asks
// for a copy off-site must not deploy without one.
func CheckSupported(ps []*policies.Policy) diag.Diagnostics {
	var ds diag.Diagnostics
	for _, p := range ps {
		s := p.Spec
		src := p.Source
		unsupported := func(path, what string) {
			ds = append(ds, unsupportedAt(src, path, what, "remove the field or wait for a release that compiles it"))
		}
		if s.Platform == policies.Windows {
			ds = append(ds, checkWindowsSupported(p)...) // windows_support.go
		}
		if s.Platform == policies.Linux {
			ds = append(ds, checkLinuxApps(p)...)
		}
		ds = append(ds, checkDLMHooks(p)...)
		if d := s.RestoreDrill; d != nil && d.Instance != "" && s.Platform == policies.Windows {
			// The drill's check document runs a Linux shell script.
			unsupported("spec.restoreDrill.instance", "a restore drill check instance for platform \"windows\"")
		}
	}
	return ds
}

// checkLinuxApps reports the limits of the on-instance script that the
// policy language does not have: how many applications one run quiesces,
// how many MySQL servers (each adds two snapshot tags, and EC2 allows 50),
// and how long their steps may take in all (the shared document's step
// timeout covers documents.MaxAppSeconds).
func checkLinuxApps(p *policies.Policy) diag.Diagnostics {
	apps := p.Spec.Apps
	if len(apps) == 0 {
		return nil
	}
	limit := func(summary, detail string) diag.Diagnostic {
		return diag.Diagnostic{
			Severity: diag.Error,
			Summary:  summary,
			Detail:   detail,
			Range:    p.Source.Key("spec.apps"),
			Path:     "spec.apps",
		}
	}
	var ds diag.Diagnostics
	mysqls := 0
	for _, a := range apps {
		if a.Type == policies.MySQL || a.Type == policies.MariaDB {
			mysqls++
		}
	}
	if len(apps) > documents.MaxApps {
		ds = append(ds, limit(fmt.Sprintf("%d applications to quiesce; one run quiesces at most %d", len(apps), documents.MaxApps),
			"split the instances between policies, or quiesce related applications with one custom hook"))
	}
	if mysqls > documents.MaxMySQLApps {
		ds = append(ds, limit(fmt.Sprintf("%d mysql or mariadb servers; one run locks at most %d", mysqls, documents.MaxMySQLApps),
			"each server's binary-log coordinates take two of the 50 tags a snapshot may carry"))
	}
	if n := (documents.LinuxSnapshot{Apps: LowerApps(apps)}).AppSeconds(); n > documents.MaxAppSeconds {
		ds = append(ds, limit(fmt.Sprintf("the applications' steps may take %d s in all, more than the %d s a run allows them", n, documents.MaxAppSeconds),
			"lower the custom apps' timeout: post hooks, CHECKPOINT and connecting to each database count"))
	}
	return ds
}

// checkDLMHooks reports a Linux policy for Data Lifecycle Manager whose
// pre-script may not finish within DLM's script timeout: its applications'
// steps (lock waits, CHECKPOINT, custom hooks) plus the hold are too long.
func checkDLMHooks(p *policies.Policy) diag.Diagnostics {
	s := p.Spec
	if s.EngineOrDefault() != policies.EngineDLM || s.Platform != policies.Linux ||
		(s.Consistency != policies.Filesystem && s.Consistency != policies.Application) {
		return nil
	}
	_, err := documents.LinuxDLMHooksCommand(documents.LinuxSnapshot{
		PolicyName:       p.Metadata.Name,
		Consistency:      string(s.Consistency),
		Apps:             LowerApps(s.Apps),
		Mounts:           s.Mounts,
		MaxFreezeSeconds: int(s.MaxFreezeOrDefault().Value / time.Second),
	})
	if err == nil {
		return nil
	}
	path := "spec.apps"
	if len(s.Apps) == 0 {
		path = "spec.maxFreeze"
	}
	return diag.Diagnostics{{
		Severity: diag.Error,
		Summary:  fmt.Sprintf("the pre-script may not finish within Data Lifecycle Manager's %d s script timeout", documents.LinuxDLMHooksExecutionTimeoutSeconds),
		Detail:   strings.TrimPrefix(err.Error(), "documents: ") + "; shorten the applications' timeouts (lockWaitTimeout, custom timeout) or maxFreeze, or use \"engine: ssm\", whose script has no such limit",
		Range:    p.Source.Key(path),
		Path:     path,
	}}
}
