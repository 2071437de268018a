package compiler_test

// Conformance of the backup and dlm engines' resources (engines.go) with
// the services' own API models, which carry the limits the CloudFormation
// provider schemas leave out (testdata/reference/botocore-dlm-service-2.json,
// botocore-backup-service-2.json; see SOURCES.md):
//
//	AWS::DLM::LifecyclePolicy     PolicyDetails, PolicyDescription, state
//	AWS::Backup::BackupPlan       BackupPlanInput (CloudFormation's names mapped to the API's)
//	AWS::Backup::BackupSelection  BackupSelection
//	AWS::Backup::BackupVault      BackupVaultName, the Vault Lock input
//
// and with the rules AWS states in prose: a DLM script document takes the
// command and executionId parameters DLM passes; AWS Backup deletes a
// recovery point no sooner than 90 days after it moved to cold storage.

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ssm-backup/ssm-backup/compiler/internal/conformance"
)

func loadServiceModel(t *testing.T, service string) *conformance.Model {
	t.Helper()
	m, err := conformance.LoadModel(filepath.Join(confReferenceDir, "botocore-"+service+"-service-2.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range m.CheckPatterns() {
		t.Error(err)
	}
	return m
}

// engineProblems checks one resolved resource of the backup or dlm engine;
// tmpl is the whole template, for what the resource refers to.
func engineProblems(dlm, backup *conformance.Model, tmpl confTemplate, id, typ string, props map[string]any) []string {
	var out []string
	add := func(ps []conformance.Problem) {
		for _, p := range ps {
			out = append(out, id+" ("+typ+"): "+p.String())
		}
	}
	switch typ {
	case "AWS::DLM::LifecyclePolicy":
		add(dlm.Check("PolicyDetails", "PolicyDetails", props["PolicyDetails"]))
		add(dlm.Check("PolicyDescription", "Description", props["Description"]))
		add(dlm.Check("SettablePolicyStateValues", "State", props["State"]))
		add(dlm.Check("ExecutionRoleArn", "ExecutionRoleArn", props["ExecutionRoleArn"]))
		// CloudFormation's tag list is the API's TagMap.
		tags := map[string]any{}
		list, _ := props["Tags"].([]any)
		for _, t := range list {
			tm, _ := t.(map[string]any)
			k, _ := tm["Key"].(string)
			tags[k] = tm["Value"]
		}
		add(dlm.Check("TagMap", "Tags", tags))
		out = append(out, dlmScriptProblems(tmpl, id, props)...)
	case "AWS::Backup::BackupPlan":
		plan, _ := props["BackupPlan"].(map[string]any)
		input := map[string]any{"BackupPlanName": plan["BackupPlanName"]}
		if s, ok := plan["AdvancedBackupSettings"]; ok {
			input["AdvancedBackupSettings"] = s
		}
		var rules []any
		rawRules, _ := plan["BackupPlanRule"].([]any)
		for i, r := range rawRules {
			rule, _ := r.(map[string]any)
			in := map[string]any{}
			for k, v := range rule {
				if k == "TargetBackupVault" {
					k = "TargetBackupVaultName"
				}
				in[k] = v
			}
			rules = append(rules, in)
			out = append(out, coldStorageProblems(fmt.Sprintf("%s BackupPlanRule[%d]", id, i), rule["Lifecycle"])...)
			copies, _ := rule["CopyActions"].([]any)
			for j, c := range copies {
				cm, _ := c.(map[string]any)
				out = append(out, coldStorageProblems(fmt.Sprintf("%s BackupPlanRule[%d].CopyActions[%d]", id, i, j), cm["Lifecycle"])...)
			}
		}
		input["Rules"] = rules
		add(backup.Check("BackupPlanInput", "BackupPlan", input))
	case "AWS::Backup::BackupSelection":
		add(backup.Check("BackupSelection", "BackupSelection", props["BackupSelection"]))
	case "AWS::Backup::BackupVault":
		add(backup.Check("BackupVaultName", "BackupVaultName", props["BackupVaultName"]))
		if lock, ok := props["LockConfiguration"].(map[string]any); ok {
			in := map[string]any{"BackupVaultName": props["BackupVaultName"]}
			for k, v := range lock {
				in[k] = v
			}
			add(backup.Check("PutBackupVaultLockConfigurationInput", "LockConfiguration", in))
		}
	}
	return out
}

// coldStorageProblems applies AWS Backup's rule that a recovery point
// stays in cold storage at least 90 days.
func coldStorageProblems(where string, lifecycle any) []string {
	lc, _ := lifecycle.(map[string]any)
	cold, hasCold := lc["MoveToColdStorageAfterDays"].(float64)
	del, hasDel := lc["DeleteAfterDays"].(float64)
	if hasCold && hasDel && del < cold+90 {
		return []string{fmt.Sprintf("%s: DeleteAfterDays %v is less than MoveToColdStorageAfterDays %v + 90", where, del, cold)}
	}
	return nil
}

// dlmScriptProblems checks that a script document a lifecycle policy runs
// is a Command document of the template that takes what DLM passes:
// command (pre-script, post-script, dry-run) and executionId.
func dlmScriptProblems(tmpl confTemplate, id string, props map[string]any) []string {
	var out []string
	details, _ := props["PolicyDetails"].(map[string]any)
	schedules, _ := details["Schedules"].([]any)
	for _, s := range schedules {
		create, _ := s.(map[string]any)["CreateRule"].(map[string]any)
		scripts, _ := create["Scripts"].([]any)
		for _, sc := range scripts {
			handler, _ := sc.(map[string]any)["ExecutionHandler"].(string)
			if handler == "AWS_VSS_BACKUP" {
				continue
			}
			var doc map[string]any
			for _, res := range tmpl.Resources {
				if res.Type == "AWS::SSM::Document" && res.Properties["Name"] == handler {
					doc, _ = res.Properties["Content"].(map[string]any)
				}
			}
			if doc == nil {
				out = append(out, id+": script document "+handler+" is not in the template")
				continue
			}
			if doc["schemaVersion"] != "2.2" {
				out = append(out, id+": script document "+handler+" is not a 2.2 Command document")
			}
			params, _ := doc["parameters"].(map[string]any)
			cmd, _ := params["command"].(map[string]any)
			var allowed []string
			for _, v := range conformance.StringList(cmd["allowedValues"]) {
				allowed = append(allowed, v)
			}
			slices.Sort(allowed)
			if !slices.Equal(allowed, []string{"dry-run", "post-script", "pre-script"}) {
				out = append(out, fmt.Sprintf("%s: script document %s: parameter command allows %v, want dry-run, post-script, pre-script", id, handler, allowed))
			}
			if _, ok := params["executionId"]; !ok {
				out = append(out, id+": script document "+handler+" has no executionId parameter")
			}
		}
	}
	return out
}

// TestConformanceEngines checks every backup and dlm resource.
func TestConformanceEngines(t *testing.T) {
	dlm, backup := loadServiceModel(t, "dlm"), loadServiceModel(t, "backup")
	seen := map[string]int{}
	for _, set := range conformanceSets(t) {
		t.Run(set.Name, func(t *testing.T) {
			tmpl, _ := confDecodeTemplate(t, set)
			r := &conformance.Resolver{Resources: tmpl.Resources, Pseudo: conformance.SamplePseudo()}
			for _, id := range confSortedIDs(tmpl) {
				res := tmpl.Resources[id]
				props, err := r.Resolve(map[string]any(res.Properties))
				if err != nil {
					t.Fatalf("%s: %v", id, err)
				}
				before := seen[res.Type]
				for _, p := range engineProblems(dlm, backup, tmpl, id, res.Type, props.(map[string]any)) {
					t.Error(p)
				}
				seen[res.Type] = before + 1
			}
		})
	}
	for _, typ := range []string{"AWS::DLM::LifecyclePolicy", "AWS::Backup::BackupPlan", "AWS::Backup::BackupSelection", "AWS::Backup::BackupVault"} {
		if seen[typ] == 0 {
			t.Errorf("no %s was emitted; nothing of it was checked", typ)
		}
	}
	t.Logf("checked against the service models: %v", seen)
}

// TestConformanceEnginesNegativeControl proves each check can fail.
func TestConformanceEnginesNegativeControl(t *testing.T) {
	dlm, backup := loadServiceModel(t, "dlm"), loadServiceModel(t, "backup")
	tmpl := confTemplate{Resources: map[string]conformance.TemplateResource{}}
	cases := []struct {
		name, typ string
		props     map[string]any
	}{
		{"script timeout over 120 s", "AWS::DLM::LifecyclePolicy", map[string]any{
			"Description": "ok", "State": "ENABLED", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/x",
			"PolicyDetails": map[string]any{"Schedules": []any{map[string]any{"CreateRule": map[string]any{
				"Scripts": []any{map[string]any{"ExecutionHandler": "AWS_VSS_BACKUP", "ExecutionTimeout": float64(200)}}}}}},
		}},
		{"script document missing", "AWS::DLM::LifecyclePolicy", map[string]any{
			"Description": "ok", "State": "ENABLED", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/x",
			"PolicyDetails": map[string]any{"Schedules": []any{map[string]any{"CreateRule": map[string]any{
				"Scripts": []any{map[string]any{"ExecutionHandler": "not-in-template"}}}}}},
		}},
		{"description without a letter", "AWS::DLM::LifecyclePolicy", map[string]any{
			"Description": "%%%", "State": "ENABLED", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/x",
			"PolicyDetails": map[string]any{},
		}},
		{"resource tag key with a space", "AWS::DLM::LifecyclePolicy", map[string]any{
			"Description": "ok", "State": "ENABLED", "ExecutionRoleArn": "arn:aws:iam::123456789012:role/x",
			"PolicyDetails": map[string]any{}, "Tags": []any{map[string]any{"Key": "Cost Center", "Value": "x"}},
		}},
		{"rule name with a space", "AWS::Backup::BackupPlan", map[string]any{"BackupPlan": map[string]any{
			"BackupPlanName": "p", "BackupPlanRule": []any{map[string]any{"RuleName": "a b", "TargetBackupVault": "v"}},
		}}},
		{"cold storage under 90 days", "AWS::Backup::BackupPlan", map[string]any{"BackupPlan": map[string]any{
			"BackupPlanName": "p", "BackupPlanRule": []any{map[string]any{"RuleName": "r", "TargetBackupVault": "v",
				"Lifecycle": map[string]any{"MoveToColdStorageAfterDays": float64(30), "DeleteAfterDays": float64(100)}}},
		}}},
		{"selection without a role", "AWS::Backup::BackupSelection", map[string]any{"BackupSelection": map[string]any{"SelectionName": "s"}}},
		{"vault name with a space", "AWS::Backup::BackupVault", map[string]any{"BackupVaultName": "a b"}},
	}
	for _, c := range cases {
		if got := engineProblems(dlm, backup, tmpl, "X", c.typ, c.props); len(got) == 0 {
			t.Errorf("%s: no problem found", c.name)
		} else {
			t.Logf("negative control %s: %s", c.name, got[0])
		}
	}
}
