package compiler

import (
	"fmt"

	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/policies"
)

// CheckSupported reports the parts of the language this compiler cannot
// compile yet. They are errors, never silently ignored: a policy that asks
// for a copy off-site must not deploy without one.
func CheckSupported(ps []*policies.Policy) diag.Diagnostics {
	var ds diag.Diagnostics
	for _, p := range ps {
		s := p.Spec
		src := p.Source
		unsupported := func(path, what string) {
			ds = append(ds, diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("%s is not yet supported by this compiler", what),
				Detail:   "the policy is valid, but no artifacts can be generated for it yet; remove the field or wait for a release that compiles it",
				Range:    src.Key(path),
				Path:     path,
			})
		}
		if s.Platform == policies.Windows {
			unsupported("spec.platform", "platform \"windows\"")
		}
		switch s.Consistency {
		case policies.Application, policies.Stopped:
			unsupported("spec.consistency", fmt.Sprintf("consistency %q", s.Consistency))
		}
		if s.Volumes == policies.RootVolume {
			unsupported("spec.volumes", "volumes \"root\"")
		}
		if len(s.Apps) > 0 {
			unsupported("spec.apps", "application quiescing (apps)")
		}
		if s.Windows != nil {
			unsupported("spec.windows", "Windows settings (windows)")
		}
		if s.RestoreDrill != nil {
			unsupported("spec.restoreDrill", "restore drills")
		}
	}
	return ds
}
