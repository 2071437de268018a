package compiler

import (
	"fmt"
	"maps"
	"slices"

	"github.com/ssm-backup/ssm-backup/diag"
	"github.com/ssm-backup/ssm-backup/documents"
	"github.com/ssm-backup/ssm-backup/policies"
)

// checkWindowsSupported reports what AWS's VSS document cannot do for a
// Windows policy: the root volume alone, and tags it cannot carry.
func checkWindowsSupported(p *policies.Policy) diag.Diagnostics {
	var ds diag.Diagnostics
	s := p.Spec
	src := p.Source
	if s.Consistency != policies.Application {
		return ds
	}
	if n := len(windowsHooks(s.Apps)); n > documents.MaxApps {
		ds = append(ds, diag.Diagnostic{
			Severity: diag.Error,
			Summary:  fmt.Sprintf("%d custom apps; one run runs the hooks of at most %d", n, documents.MaxApps),
			Detail:   "split the instances between policies, or pause related services with one pre and post hook",
			Range:    src.Key("spec.apps"),
			Path:     "spec.apps",
		})
	}
	if s.EngineOrDefault() != policies.EngineSSM {
		return ds // AWS Backup and DLM tag the snapshots themselves
	}
	if s.Volumes == policies.RootVolume && (s.Windows == nil || s.Windows.VSS != VSSDiskshadow) {
		ds = append(ds, diag.Diagnostic{
			Severity: diag.Error,
			Summary:  fmt.Sprintf("%s cannot snapshot the root volume alone", documents.CreateVSSSnapshotDocument),
			Detail:   "AWS's VSS document snapshots every volume of the instance, or every data volume (ExcludeBootVolume); use \"windows: {vss: diskshadow}\" for a VSS snapshot of the root volume alone, \"volumes: all\", or \"consistency: stopped\"",
			Range:    src.Key("spec.volumes"),
			Path:     "spec.volumes",
		})
	}
	// AWSEC2-CreateVssSnapshot takes tags as "Key=k,Value=v;...": a key or
	// value with , ; or = would be read as another tag, and its own tag
	// keys may not be given.
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		if _, err := documents.VSSTagsParameter([]documents.Tag{{Key: k, Value: s.Tags[k]}}); err != nil {
			ds = append(ds, diag.Diagnostic{
				Severity: diag.Error,
				Summary:  fmt.Sprintf("tag %q cannot be passed to %s: %v", k, documents.CreateVSSSnapshotDocument, err),
				Detail:   fmt.Sprintf("AWS's VSS document sets %v itself and reads its tags parameter as Key=k,Value=v pairs separated by ; — rename the tag or change its value", documents.VSSReservedTagKeys),
				Range:    src.Key("spec.tags." + k),
				Path:     "spec.tags." + k,
			})
		}
	}
	return ds
}
