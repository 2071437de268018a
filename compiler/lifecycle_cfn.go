package compiler

import (
	"encoding/json"
	"fmt"
	"strings"
)

// CloudFormation of the lifecycle: the Recycle Bin rule in the set's
// template, and the template each account that receives shares deploys on
// its side.

type rbinResourceTag struct {
	ResourceTagKey   string `json:"ResourceTagKey"`
	ResourceTagValue string `json:"ResourceTagValue"`
}

type rbinRetentionPeriod struct {
	RetentionPeriodValue int    `json:"RetentionPeriodValue"`
	RetentionPeriodUnit  string `json:"RetentionPeriodUnit"`
}

type rbinRuleProperties struct {
	Description     string              `json:"Description"`
	ResourceType    string              `json:"ResourceType"`
	ResourceTags    []rbinResourceTag   `json:"ResourceTags"`
	RetentionPeriod rbinRetentionPeriod `json:"RetentionPeriod"`
	Tags            []CFNTag            `json:"Tags"`
}

// addLifecycleResources adds the lifecycle's resources of one policy to the
// template. What can fail to build was built for the policy's files first
// (addLifecycleFiles), which reports it.
func addLifecycleResources(t *Template, p *PolicyPlan) {
	n := p.Names
	if d := p.Protection.RecycleBinDays; d > 0 {
		t.Resources[n.Logical+"RecycleBinRule"] = Resource{
			Type: "AWS::Rbin::Rule",
			Properties: rbinRuleProperties{
				Description:  fmt.Sprintf("ssm-backup policy %s: deleted snapshots of the policy stay recoverable for %d days", n.Policy, d),
				ResourceType: "EBS_SNAPSHOT",
				ResourceTags: []rbinResourceTag{{ResourceTagKey: TagPolicy, ResourceTagValue: n.Policy}},
				RetentionPeriod: rbinRetentionPeriod{
					RetentionPeriodValue: d,
					RetentionPeriodUnit:  "DAYS",
				},
				Tags: cfnTags(p),
			},
		}
	}
	if p.Drill != nil {
		addDrillResources(t, p)
	}
}

// DestinationTemplatePath is the template an account that receives shares
// deploys, relative to the policy's directory.
func DestinationTemplatePath(account string) string {
	return "copy-destination-" + account + ".json"
}

// destinationTemplate is a template a destination deploys: for a share,
// the one an account deploys to copy the snapshots the policy shares with
// it (ssm-backup shares; the copy itself is that account's to run, with the
// permissions this template grants); for an AWS Backup copy, the vault it
// goes to (engines.go).
type destinationTemplate struct {
	AWSTemplateFormatVersion string                  `json:"AWSTemplateFormatVersion"`
	Description              string                  `json:"Description"`
	Parameters               map[string]cfnParameter `json:"Parameters,omitempty"`
	Resources                map[string]Resource     `json:"Resources"`
	Outputs                  map[string]Output       `json:"Outputs"`
}

type cfnParameter struct {
	Type           string `json:"Type"`
	Description    string `json:"Description"`
	AllowedPattern string `json:"AllowedPattern,omitempty"`
}

// destinationPolicy is what the copying principal of the destination
// account may do: copy snapshots shared from the source region into this
// region, tagged with the policy at creation, use keys only through EC2,
// and never delete, share or untag the copies.
func destinationPolicy(p *PolicyPlan) PolicyDocument {
	n := p.Names
	source := "arn:${AWS::Partition}:ec2:${SourceRegion}::snapshot/*"
	copies := snapshotsIn(thisRegion)
	return PolicyDocument{Version: iamVersion, Statement: append([]Statement{
		{
			Sid:      "FindSharedSnapshots",
			Effect:   "Allow",
			Action:   Strings{"ec2:DescribeSnapshotAttribute", "ec2:DescribeSnapshots"},
			Resource: Strings{"*"},
		},
		{
			// Only snapshots shared with this account (or its own) can be
			// copied at all; this names the region they are shared in.
			Sid:      "CopyFromTheSourceRegion",
			Effect:   "Allow",
			Action:   Strings{"ec2:CopySnapshot"},
			Resource: Strings{source},
		},
		{
			Sid:       "CreateCopiesTaggedWithThePolicy",
			Effect:    "Allow",
			Action:    Strings{"ec2:CopySnapshot"},
			Resource:  Strings{copies},
			Condition: Condition{"StringEquals": policyTagIs("aws:RequestTag/", n.Policy)},
		},
		{
			Sid:      "TagCopiesOnlyAtCreation",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateTags"},
			Resource: Strings{copies},
			Condition: Condition{"StringEquals": map[string]Strings{
				"ec2:CreateAction":            {"CopySnapshot"},
				"aws:RequestTag/" + TagPolicy: {n.Policy},
			}},
		},
	}, append(kmsThroughEC2("Copies", []string{"${SourceRegion}"}), writeOnceDeny(p))...)}
}

// destinationTemplateFor renders the template one account deploys.
func destinationTemplateFor(p *PolicyPlan, c CopyPlan) destinationTemplate {
	n := p.Names
	where := "in the region the snapshots are shared from"
	if c.Region != "" {
		where = "in " + c.Region
	}
	cmd := "aws ec2 copy-snapshot"
	if c.Region != "" {
		cmd += " --region " + c.Region
	}
	cmd += " --source-region SOURCE_REGION --source-snapshot-id SNAPSHOT_ID --tag-specifications 'ResourceType=snapshot,Tags=[{Key=" + TagPolicy + ",Value=" + n.Policy + "}]'"
	if c.KMSKeyID != "" {
		cmd += " --encrypted --kms-key-id " + c.KMSKeyID
	}
	desc := fmt.Sprintf("ssm-backup policy %s shares its snapshots with this account (%s). Deploy this stack here, %s, and attach the managed policy to the principal that copies them: %s. ssm-backup shares; it does not run the copy, nor prune the copies here.",
		n.Policy, c.Account, where, cmd)
	return destinationTemplate{
		AWSTemplateFormatVersion: "2010-09-09",
		Description:              desc,
		Parameters: map[string]cfnParameter{
			"SourceRegion": {
				Type:           "String",
				Description:    "The region ssm-backup policy " + n.Policy + " runs in and shares its snapshots from.",
				AllowedPattern: `^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`,
			},
		},
		Resources: map[string]Resource{
			"CopyPolicy": {
				Type: "AWS::IAM::ManagedPolicy",
				Properties: managedPolicyProperties{
					ManagedPolicyName: "ssmb-" + n.Policy + "-copy-in",
					Path:              IAMPath,
					Description:       "Copy the snapshots ssm-backup policy " + n.Policy + " shares with this account; never delete or share the copies",
					PolicyDocument:    withSubAll(destinationPolicy(p)),
				},
			},
		},
		Outputs: map[string]Output{
			"CopyPolicy": {
				Description: "Attach this managed policy to the role or user that copies the shared snapshots of policy " + n.Policy,
				Value:       ref{Ref: "CopyPolicy"},
			},
		},
	}
}

// lifecycleFiles are the lifecycle's files of one policy, relative to its
// directory.
func lifecycleFiles(p *PolicyPlan) (map[string]any, error) {
	out := map[string]any{}
	for _, c := range p.Copies {
		if c.IsShare() {
			out[DestinationTemplatePath(c.Account)] = destinationTemplateFor(p, c)
		}
	}
	if p.Drill != nil {
		if err := addDrillFiles(out, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addLifecycleFiles renders the lifecycle's files of one policy into files,
// under dir.
func addLifecycleFiles(files Files, dir string, p *PolicyPlan) error {
	extra, err := lifecycleFiles(p)
	if err != nil {
		return fmt.Errorf("policy %s: %w", p.Names.Policy, err)
	}
	for name, v := range extra {
		b, err := indentJSON(v)
		if err != nil {
			return fmt.Errorf("policy %s: %s: %w", p.Names.Policy, name, err)
		}
		files[dir+strings.TrimPrefix(name, "/")] = b
	}
	return nil
}

// withSubAll is withSub for a template with parameters of its own: every
// string value holding a ${...} placeholder becomes an Fn::Sub.
func withSubAll(v any) any {
	raw, err := compactJSON(v)
	if err != nil {
		panic(err) // the IAM types always marshal
	}
	return json.RawMessage(subJSON(raw, "${"))
}
