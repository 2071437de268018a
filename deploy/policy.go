package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ssm-backup/ssm-backup/compiler"
)

// Name patterns of what the compiler generates (see compiler.Names): IAM
// roles, policies and instance profiles are "ssmb-…" under the
// compiler.IAMPath path, SSM documents "ssm-backup-…".
const (
	iamNamePattern = "ssmb-*"
	ssmNamePattern = "ssm-backup-*"
)

// PolicyScope says which deploys the deployer policy allows.
type PolicyScope struct {
	Stack string
	// Regions deployed to; none means any region.
	Regions []string
	// Bucket, when set, is where templates are staged (it may contain
	// RegionPlaceholder); Prefix is the key prefix.
	Bucket string
	Prefix string
}

// scope names the resources a group of actions applies to.
type scope int

const (
	scopeRole scope = iota
	scopeManagedPolicy
	scopeInstanceProfile
	scopeSSMServiceLinkedRole
	scopeDocument
	scopeMaintenanceWindow
	scopeLifecyclePolicy
	scopeBackup
	scopeBackupStorage
	scopeRecycleBin
	scopeLast = scopeRecycleBin
)

type grant struct {
	scope   scope
	actions []string
}

// resourceGrants is what CloudFormation does, with the deploying principal's
// credentials, to create, read, update and delete each resource type the
// compiler emits: the handler permissions of CloudFormation's published
// resource provider schemas, less what the generated properties never use
// (attaching policies to users and groups, reading document attachments
// from S3).
var resourceGrants = map[string][]grant{
	"AWS::IAM::Role": {{scopeRole, []string{
		"iam:CreateRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateRoleDescription", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole",
		"iam:TagRole", "iam:UntagRole",
		"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies",
		"iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:ListAttachedRolePolicies",
		"iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary",
	}}},
	"AWS::IAM::ManagedPolicy": {
		{scopeManagedPolicy, []string{
			"iam:CreatePolicy", "iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions", "iam:CreatePolicyVersion",
			"iam:DeletePolicyVersion", "iam:DeletePolicy", "iam:ListEntitiesForPolicy",
		}},
		{scopeRole, []string{"iam:AttachRolePolicy", "iam:DetachRolePolicy"}},
	},
	"AWS::IAM::Policy": {{scopeRole, []string{"iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy"}}},
	"AWS::IAM::InstanceProfile": {
		{scopeInstanceProfile, []string{
			"iam:CreateInstanceProfile", "iam:GetInstanceProfile", "iam:AddRoleToInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile",
		}},
		{scopeRole, []string{"iam:PassRole"}},
	},
	"AWS::SSM::Document": {{scopeDocument, []string{
		"ssm:CreateDocument", "ssm:GetDocument", "ssm:DescribeDocument", "ssm:UpdateDocument", "ssm:UpdateDocumentDefaultVersion", "ssm:DeleteDocument",
		"ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource",
	}}},
	"AWS::SSM::MaintenanceWindow": {{scopeMaintenanceWindow, []string{
		"ssm:CreateMaintenanceWindow", "ssm:GetMaintenanceWindow", "ssm:UpdateMaintenanceWindow", "ssm:DeleteMaintenanceWindow",
		"ssm:AddTagsToResource", "ssm:RemoveTagsFromResource", "ssm:ListTagsForResource",
	}}},
	"AWS::SSM::MaintenanceWindowTarget": {{scopeMaintenanceWindow, []string{
		"ssm:RegisterTargetWithMaintenanceWindow", "ssm:DescribeMaintenanceWindowTargets", "ssm:UpdateMaintenanceWindowTarget", "ssm:DeregisterTargetFromMaintenanceWindow",
	}}},
	"AWS::SSM::MaintenanceWindowTask": {
		{scopeMaintenanceWindow, []string{
			"ssm:RegisterTaskWithMaintenanceWindow", "ssm:GetMaintenanceWindowTask", "ssm:UpdateMaintenanceWindowTask", "ssm:DeregisterTaskFromMaintenanceWindow",
		}},
		// The task runs as the window role, which CloudFormation passes.
		{scopeRole, []string{"iam:PassRole"}},
		// Registering the first task may create Systems Manager's
		// service-linked role.
		{scopeSSMServiceLinkedRole, []string{"iam:CreateServiceLinkedRole"}},
	},
	"AWS::DLM::LifecyclePolicy": {
		{scopeLifecyclePolicy, []string{
			"dlm:CreateLifecyclePolicy", "dlm:GetLifecyclePolicy", "dlm:UpdateLifecyclePolicy", "dlm:DeleteLifecyclePolicy", "dlm:TagResource", "dlm:UntagResource",
		}},
		{scopeRole, []string{"iam:PassRole"}},
	},
	// Vault names are the policy's choice, so vaults are not scoped by
	// name. A vault with a KMS key needs the principal's grants on it, through
	// AWS Backup only; every vault needs AWS Backup's storage mounted.
	"AWS::Backup::BackupVault": {
		{scopeBackup, []string{
			"backup:CreateBackupVault", "backup:DescribeBackupVault", "backup:DeleteBackupVault",
			"backup:PutBackupVaultLockConfiguration", "backup:DeleteBackupVaultLockConfiguration",
			"backup:TagResource", "backup:UntagResource", "backup:ListTags",
		}},
		{scopeBackupStorage, []string{
			"backup-storage:MountCapsule",
			"kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey", "kms:RetireGrant",
		}},
	},
	"AWS::Backup::BackupPlan": {{scopeBackup, []string{
		"backup:CreateBackupPlan", "backup:GetBackupPlan", "backup:UpdateBackupPlan", "backup:DeleteBackupPlan",
		"backup:TagResource", "backup:UntagResource", "backup:ListTags",
	}}},
	"AWS::Backup::BackupSelection": {
		{scopeBackup, []string{"backup:CreateBackupSelection", "backup:GetBackupSelection", "backup:DeleteBackupSelection"}},
		// The selection names the service role, which CloudFormation passes.
		{scopeRole, []string{"iam:PassRole"}},
	},
	"AWS::Rbin::Rule": {{scopeRecycleBin, []string{
		"rbin:CreateRule", "rbin:GetRule", "rbin:UpdateRule", "rbin:DeleteRule",
		"rbin:TagResource", "rbin:UntagResource", "rbin:ListTagsForResource",
	}}},
}

var scopeSids = map[scope]string{
	scopeRole:                 "GeneratedRoles",
	scopeManagedPolicy:        "GeneratedManagedPolicies",
	scopeInstanceProfile:      "GeneratedInstanceProfiles",
	scopeSSMServiceLinkedRole: "SystemsManagerServiceLinkedRole",
	scopeDocument:             "GeneratedDocuments",
	scopeMaintenanceWindow:    "MaintenanceWindows",
	scopeLifecyclePolicy:      "LifecyclePolicies",
	scopeBackup:               "BackupVaultsPlansSelections",
	scopeBackupStorage:        "BackupVaultStorageAndKeysThroughBackup",
	scopeRecycleBin:           "RecycleBinRules",
}

// DeployerPolicy is the IAM identity policy a principal needs to deploy the
// template with ssm-backup deploy: the change-set calls on the stack, the
// template upload, and what CloudFormation does with the principal's
// credentials to the resource types actually in the template. Resources are
// scoped to the generated names and IAM path wherever IAM can scope them
// (maintenance windows and lifecycle policies are named by generated ids,
// so they cannot be); the account is left as "*".
//
// A resource type this package has no permissions for is an error, so the
// policy is never silently short.
func DeployerPolicy(template []byte, sc PolicyScope) (*compiler.PolicyDocument, error) {
	var t struct {
		Resources map[string]struct {
			Type string `json:"Type"`
		} `json:"Resources"`
	}
	if err := json.Unmarshal(template, &t); err != nil {
		return nil, fmt.Errorf("the template is not valid JSON: %w", err)
	}
	if sc.Stack == "" {
		return nil, fmt.Errorf("the deployer policy needs the stack name")
	}
	regions := append([]string(nil), sc.Regions...)
	sort.Strings(regions)
	regions = dedupe(regions)
	if len(regions) == 0 {
		regions = []string{"*"}
	}
	partitions := partitionsOf(regions)

	byScope := map[scope]map[string]bool{}
	var unknown []string
	for _, r := range t.Resources {
		grants, ok := resourceGrants[r.Type]
		if !ok {
			unknown = append(unknown, r.Type)
			continue
		}
		for _, g := range grants {
			if byScope[g.scope] == nil {
				byScope[g.scope] = map[string]bool{}
			}
			for _, a := range g.actions {
				byScope[g.scope][a] = true
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("no deployer permissions are known for resource type %s", strings.Join(dedupe(unknown), ", "))
	}

	doc := &compiler.PolicyDocument{Version: "2012-10-17"}
	var stackARNs []string
	for _, r := range regions {
		p := partitionOf(r)
		stackARNs = append(stackARNs,
			fmt.Sprintf("arn:%s:cloudformation:%s:*:stack/%s/*", p, r, sc.Stack),
			fmt.Sprintf("arn:%s:cloudformation:%s:*:changeSet/%s*/*", p, r, ChangeSetPrefix))
	}
	doc.Statement = append(doc.Statement, compiler.Statement{
		Sid:    "ChangeSetsOnTheStack",
		Effect: "Allow",
		Action: []string{
			"cloudformation:CreateChangeSet", "cloudformation:DeleteChangeSet", "cloudformation:DescribeChangeSet",
			"cloudformation:DescribeStackEvents", "cloudformation:DescribeStacks", "cloudformation:ExecuteChangeSet",
		},
		Resource: stackARNs,
	})
	if sc.Bucket != "" {
		var objects []string
		for _, r := range regions {
			bucket := sc.Bucket
			if r != "*" {
				bucket = strings.ReplaceAll(bucket, RegionPlaceholder, r)
			} else {
				bucket = strings.ReplaceAll(bucket, RegionPlaceholder, "*")
			}
			objects = append(objects, fmt.Sprintf("arn:%s:s3:::%s/%s*", partitionOf(r), bucket, sc.Prefix))
		}
		// CloudFormation reads a TemplateURL with the caller's credentials.
		doc.Statement = append(doc.Statement, compiler.Statement{
			Sid:      "TemplateUpload",
			Effect:   "Allow",
			Action:   []string{"s3:GetObject", "s3:PutObject"},
			Resource: dedupe(sorted(objects)),
		})
	}
	iamPath := strings.TrimPrefix(compiler.IAMPath, "/")
	for s := scopeRole; s <= scopeLast; s++ {
		actions := byScope[s]
		if len(actions) == 0 {
			continue
		}
		st := compiler.Statement{Sid: scopeSids[s], Effect: "Allow", Action: sortedKeys(actions)}
		for _, p := range partitions {
			switch s {
			case scopeRole:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:iam::*:role/%s%s", p, iamPath, iamNamePattern))
			case scopeManagedPolicy:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:iam::*:policy/%s%s", p, iamPath, iamNamePattern))
			case scopeInstanceProfile:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:iam::*:instance-profile/%s%s", p, iamPath, iamNamePattern))
			case scopeSSMServiceLinkedRole:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:iam::*:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM", p))
				st.Condition = compiler.Condition{"StringEquals": {"iam:AWSServiceName": {"ssm.amazonaws.com"}}}
			}
		}
		if s == scopeBackupStorage {
			// MountCapsule has no resource; the keys are used through AWS
			// Backup only.
			st.Resource = []string{"*"}
			st.Condition = compiler.Condition{"StringLike": {"kms:ViaService": {"backup.*.amazonaws.com"}}}
		}
		for _, r := range regions {
			p := partitionOf(r)
			switch s {
			case scopeDocument:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:ssm:%s:*:document/%s", p, r, ssmNamePattern))
			case scopeMaintenanceWindow:
				// Targets and tasks are resources of their own for some
				// of these actions.
				st.Resource = append(st.Resource,
					fmt.Sprintf("arn:%s:ssm:%s:*:maintenancewindow/*", p, r),
					fmt.Sprintf("arn:%s:ssm:%s:*:windowtarget/*", p, r),
					fmt.Sprintf("arn:%s:ssm:%s:*:windowtask/*", p, r))
			case scopeLifecyclePolicy:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:dlm:%s:*:policy/*", p, r))
			case scopeBackup:
				st.Resource = append(st.Resource,
					fmt.Sprintf("arn:%s:backup:%s:*:backup-vault:*", p, r),
					fmt.Sprintf("arn:%s:backup:%s:*:backup-plan:*", p, r))
			case scopeRecycleBin:
				st.Resource = append(st.Resource, fmt.Sprintf("arn:%s:rbin:%s:*:rule/*", p, r))
			}
		}
		doc.Statement = append(doc.Statement, st)
	}
	return doc, nil
}

// MarshalPolicy writes a policy document as indented JSON with a final
// newline.
func MarshalPolicy(doc *compiler.PolicyDocument) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// partitionOf is the partition of a region: its ARNs start arn:<partition>.
func partitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eusc-"):
		return "aws-eusc"
	}
	return "aws"
}

func partitionsOf(regions []string) []string {
	var out []string
	for _, r := range regions {
		out = append(out, partitionOf(r))
	}
	return dedupe(sorted(out))
}

func sorted(s []string) []string {
	sort.Strings(s)
	return s
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// dedupe drops adjacent repeats of a sorted list.
func dedupe(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
