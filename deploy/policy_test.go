package deploy

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ssm-backup/ssm-backup/compiler"
	"github.com/ssm-backup/ssm-backup/policies"
)

// exampleTemplate compiles the example policies of the repository.
func exampleTemplate(t *testing.T) []byte {
	t.Helper()
	dir := filepath.Join("..", "examples", "policies")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var files []policies.File
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, policies.File{Name: e.Name(), Data: b})
		}
	}
	res := compiler.Compile(files, compiler.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if res.Diagnostics.HasErrors() {
		t.Fatalf("examples do not compile: %v", res.Diagnostics.Errors())
	}
	return res.Files[compiler.TemplatePath]
}

type templateResource struct {
	Type       string         `json:"Type"`
	Properties map[string]any `json:"Properties"`
}

func statements(t *testing.T, doc *compiler.PolicyDocument) map[string]compiler.Statement {
	t.Helper()
	out := map[string]compiler.Statement{}
	for _, st := range doc.Statement {
		if _, dup := out[st.Sid]; dup {
			t.Errorf("two statements %s", st.Sid)
		}
		if st.Effect != "Allow" || len(st.Action) == 0 || len(st.Resource) == 0 {
			t.Errorf("statement %s: %+v", st.Sid, st)
		}
		out[st.Sid] = st
	}
	return out
}

// allows reports whether a statement allows an action on an ARN, with IAM's
// wildcard matching (* within and across segments).
func allows(st compiler.Statement, action, arn string) bool {
	hasAction := false
	for _, a := range st.Action {
		if a == action {
			hasAction = true
		}
	}
	if !hasAction {
		return false
	}
	for _, r := range st.Resource {
		if ok, _ := path.Match(strings.ReplaceAll(r, "/", "\x00"), strings.ReplaceAll(arn, "/", "\x00")); ok {
			return true
		}
	}
	return false
}

// TestDeployerPolicyCoversTheGeneratedNames checks the scoping against the
// names the compiler really generates: every named IAM and SSM resource of
// the example template falls inside the policy's resource patterns.
func TestDeployerPolicyCoversTheGeneratedNames(t *testing.T) {
	tmpl := exampleTemplate(t)
	doc, err := DeployerPolicy(tmpl, PolicyScope{Stack: "backups", Regions: []string{"us-east-1", "eu-west-1", "us-east-1"}, Bucket: "cfn-{region}", Prefix: "ssm-backup/"})
	if err != nil {
		t.Fatal(err)
	}
	st := statements(t, doc)
	var tpl struct {
		Resources map[string]templateResource `json:"Resources"`
	}
	if err := json.Unmarshal(tmpl, &tpl); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for id, r := range tpl.Resources {
		str := func(k string) string { s, _ := r.Properties[k].(string); return s }
		p := strings.TrimPrefix(str("Path"), "/")
		type want struct{ sid, action, arn string }
		var wants []want
		switch r.Type {
		case "AWS::IAM::Role":
			wants = append(wants, want{"GeneratedRoles", "iam:CreateRole", "arn:aws:iam::123456789012:role/" + p + str("RoleName")},
				want{"GeneratedRoles", "iam:PassRole", "arn:aws:iam::123456789012:role/" + p + str("RoleName")})
		case "AWS::IAM::ManagedPolicy":
			wants = append(wants, want{"GeneratedManagedPolicies", "iam:CreatePolicy", "arn:aws:iam::123456789012:policy/" + p + str("ManagedPolicyName")})
		case "AWS::IAM::InstanceProfile":
			wants = append(wants, want{"GeneratedInstanceProfiles", "iam:CreateInstanceProfile", "arn:aws:iam::123456789012:instance-profile/" + p + str("InstanceProfileName")})
		case "AWS::SSM::Document":
			for _, region := range []string{"us-east-1", "eu-west-1"} {
				wants = append(wants, want{"GeneratedDocuments", "ssm:CreateDocument", "arn:aws:ssm:" + region + ":123456789012:document/" + str("Name")})
			}
		case "AWS::SSM::MaintenanceWindow":
			wants = append(wants, want{"MaintenanceWindows", "ssm:CreateMaintenanceWindow", "arn:aws:ssm:eu-west-1:123456789012:maintenancewindow/mw-0123456789abcdef0"})
		case "AWS::SSM::MaintenanceWindowTask":
			wants = append(wants, want{"MaintenanceWindows", "ssm:RegisterTaskWithMaintenanceWindow", "arn:aws:ssm:us-east-1:123456789012:maintenancewindow/mw-0123456789abcdef0"})
		case "AWS::SSM::MaintenanceWindowTarget":
			wants = append(wants, want{"MaintenanceWindows", "ssm:RegisterTargetWithMaintenanceWindow", "arn:aws:ssm:us-east-1:123456789012:maintenancewindow/mw-0123456789abcdef0"})
		}
		for _, w := range wants {
			checked++
			if !allows(st[w.sid], w.action, w.arn) {
				t.Errorf("%s (%s): %s does not allow %s on %s", id, r.Type, w.sid, w.action, w.arn)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no resource checked")
	}
	cfn := st["ChangeSetsOnTheStack"]
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		for _, a := range []string{"CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet", "DeleteChangeSet", "DescribeStacks", "DescribeStackEvents"} {
			if !allows(cfn, "cloudformation:"+a, "arn:aws:cloudformation:"+region+":123456789012:stack/backups/0f1e2d3c-aaaa-bbbb-cccc-000000000000") {
				t.Errorf("cloudformation:%s not allowed on the stack in %s", a, region)
			}
		}
		if !allows(cfn, "cloudformation:ExecuteChangeSet", "arn:aws:cloudformation:"+region+":123456789012:changeSet/ssm-backup-1767225600/0f1e2d3c") {
			t.Errorf("change sets named %s* not allowed in %s", ChangeSetPrefix, region)
		}
		if allows(cfn, "cloudformation:CreateChangeSet", "arn:aws:cloudformation:"+region+":123456789012:stack/other/0f1e2d3c") {
			t.Errorf("another stack is allowed")
		}
		key := "ssm-backup/" + strings.Repeat("a", 64) + ".json"
		for _, a := range []string{"s3:PutObject", "s3:GetObject"} {
			if !allows(st["TemplateUpload"], a, "arn:aws:s3:::cfn-"+region+"/"+key) {
				t.Errorf("%s not allowed on the template in %s", a, region)
			}
		}
	}
	if allows(st["TemplateUpload"], "s3:PutObject", "arn:aws:s3:::cfn-us-east-1/elsewhere/x.json") {
		t.Error("uploads outside the prefix are allowed")
	}
	if allows(st["GeneratedRoles"], "iam:CreateRole", "arn:aws:iam::123456789012:role/admin") {
		t.Error("roles outside the generated names are allowed")
	}
	if slr := st["SystemsManagerServiceLinkedRole"]; slr.Condition["StringEquals"]["iam:AWSServiceName"][0] != "ssm.amazonaws.com" {
		t.Errorf("service-linked role statement: %+v", slr)
	}
}

func TestDeployerPolicyIsDeterministicJSON(t *testing.T) {
	tmpl := exampleTemplate(t)
	var first []byte
	for range 5 {
		doc, err := DeployerPolicy(tmpl, PolicyScope{Stack: "backups", Regions: []string{"eu-west-1", "us-east-1"}})
		if err != nil {
			t.Fatal(err)
		}
		b, err := MarshalPolicy(doc)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if diff := cmp.Diff(string(first), string(b)); diff != "" {
			t.Fatalf("policy differs between runs:\n%s", diff)
		}
	}
	var v struct {
		Version   string
		Statement []struct{ Sid string }
	}
	if err := json.Unmarshal(first, &v); err != nil || v.Version != "2012-10-17" || !strings.HasSuffix(string(first), "}\n") {
		t.Fatalf("not an IAM policy document: %v\n%s", err, first)
	}
	var sids []string
	for _, s := range v.Statement {
		sids = append(sids, s.Sid)
	}
	want := []string{"ChangeSetsOnTheStack", "GeneratedRoles", "GeneratedManagedPolicies", "GeneratedInstanceProfiles", "SystemsManagerServiceLinkedRole", "GeneratedDocuments", "MaintenanceWindows",
		"LifecyclePolicies", "BackupVaultsPlansSelections", "BackupVaultStorageAndKeysThroughBackup", "RecycleBinRules"}
	if diff := cmp.Diff(want, sids); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}
}

func TestDeployerPolicyFollowsTheTemplateTypes(t *testing.T) {
	doc, err := DeployerPolicy([]byte(`{"Resources":{"L":{"Type":"AWS::DLM::LifecyclePolicy"}}}`), PolicyScope{Stack: "s", Regions: []string{"cn-north-1"}})
	if err != nil {
		t.Fatal(err)
	}
	st := statements(t, doc)
	if !allows(st["LifecyclePolicies"], "dlm:CreateLifecyclePolicy", "arn:aws-cn:dlm:cn-north-1:123456789012:policy/policy-0123") {
		t.Errorf("lifecycle policy statement: %+v", st["LifecyclePolicies"])
	}
	if !allows(st["GeneratedRoles"], "iam:PassRole", "arn:aws-cn:iam::123456789012:role/ssm-backup/ssmb-x") {
		t.Errorf("roles statement in aws-cn: %+v", st["GeneratedRoles"])
	}
	// Only the types in the template.
	for _, sid := range []string{"GeneratedDocuments", "BackupVaultsPlansSelections", "RecycleBinRules"} {
		if _, ok := st[sid]; ok {
			t.Errorf("%s granted without such a resource in the template", sid)
		}
	}
	if !allows(st["ChangeSetsOnTheStack"], "cloudformation:DescribeStacks", "arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/s/1") {
		t.Errorf("stack statement: %+v", st["ChangeSetsOnTheStack"])
	}

	_, err = DeployerPolicy([]byte(`{"Resources":{"Q":{"Type":"AWS::SQS::Queue"},"B":{"Type":"AWS::S3::Bucket"},"R":{"Type":"AWS::IAM::Role"}}}`), PolicyScope{Stack: "s"})
	if err == nil || !strings.Contains(err.Error(), "AWS::S3::Bucket, AWS::SQS::Queue") {
		t.Errorf("unknown types: %v", err)
	}
	if _, err := DeployerPolicy([]byte(`{`), PolicyScope{Stack: "s"}); err == nil {
		t.Error("broken JSON accepted")
	}
}

func TestDeployerPolicyForBackupAndRecycleBin(t *testing.T) {
	doc, err := DeployerPolicy([]byte(`{"Resources":{"V":{"Type":"AWS::Backup::BackupVault"},"P":{"Type":"AWS::Backup::BackupPlan"},"S":{"Type":"AWS::Backup::BackupSelection"},"R":{"Type":"AWS::Rbin::Rule"}}}`), PolicyScope{Stack: "s", Regions: []string{"eu-west-1"}})
	if err != nil {
		t.Fatal(err)
	}
	st := statements(t, doc)
	for _, c := range []struct{ sid, action, resource string }{
		{"BackupVaultsPlansSelections", "backup:CreateBackupVault", "arn:aws:backup:eu-west-1:123456789012:backup-vault:prod"},
		{"BackupVaultsPlansSelections", "backup:CreateBackupSelection", "arn:aws:backup:eu-west-1:123456789012:backup-plan:0123"},
		{"BackupVaultStorageAndKeysThroughBackup", "backup-storage:MountCapsule", "*"},
		{"RecycleBinRules", "rbin:CreateRule", "arn:aws:rbin:eu-west-1:123456789012:rule/abc"},
		{"GeneratedRoles", "iam:PassRole", "arn:aws:iam::123456789012:role/ssm-backup/ssmb-x-backup"},
	} {
		if !allows(st[c.sid], c.action, c.resource) {
			t.Errorf("%s does not allow %s on %s: %+v", c.sid, c.action, c.resource, st[c.sid])
		}
	}
	if allows(st["BackupVaultsPlansSelections"], "backup:CreateBackupVault", "arn:aws:backup:us-east-1:123456789012:backup-vault:prod") {
		t.Error("vaults granted outside the deployed regions")
	}
	if c := st["BackupVaultStorageAndKeysThroughBackup"].Condition["StringLike"]["kms:ViaService"]; len(c) != 1 || c[0] != "backup.*.amazonaws.com" {
		t.Errorf("keys are not limited to AWS Backup: %v", c)
	}
}

func TestEveryGrantedTypeIsKnown(t *testing.T) {
	// Each type lists only actions of the services CloudFormation needs for
	// it, each once.
	var types []string
	for typ := range resourceGrants {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		seen := map[string]bool{}
		for _, g := range resourceGrants[typ] {
			if _, ok := scopeSids[g.scope]; !ok {
				t.Errorf("%s: scope %d has no statement id", typ, g.scope)
			}
			for _, a := range g.actions {
				svc, _, ok := strings.Cut(a, ":")
				if !ok || !slices.Contains([]string{"iam", "ssm", "dlm", "backup", "backup-storage", "kms", "rbin"}, svc) || seen[a] {
					t.Errorf("%s: action %q", typ, a)
				}
				seen[a] = true
			}
		}
	}
}

func TestPartitions(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "aws", "eu-central-2": "aws", "cn-northwest-1": "aws-cn", "us-gov-west-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "*": "aws",
	} {
		if got := partitionOf(region); got != want {
			t.Errorf("partitionOf(%s) = %s, want %s", region, got, want)
		}
	}
}
