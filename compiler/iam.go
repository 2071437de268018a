package compiler

import "encoding/json"

// The IAM documents are built from these types so that they marshal to
// deterministic JSON. ARNs carry CloudFormation pseudo parameters such as
// ${AWS::Partition}; the template substitutes them with Fn::Sub, and the
// standalone IAM files keep them for reviewers.

// PolicyDocument is an IAM policy (identity or trust).
type PolicyDocument struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one IAM statement.
type Statement struct {
	Sid       string     `json:"Sid,omitempty"`
	Effect    string     `json:"Effect"`
	Principal *Principal `json:"Principal,omitempty"`
	Action    Strings    `json:"Action"`
	Resource  Strings    `json:"Resource,omitempty"`
	Condition Condition  `json:"Condition,omitempty"`
}

// Principal names who may assume a role.
type Principal struct {
	AWS     Strings `json:"AWS,omitempty"`
	Service Strings `json:"Service,omitempty"`
}

// Condition maps an operator (StringEquals) to keys and values.
type Condition map[string]map[string]Strings

// Strings marshals as a single string when it has one element, as IAM
// habitually writes it, and as a list otherwise.
type Strings []string

// MarshalJSON writes one value as a string and several as a list.
func (s Strings) MarshalJSON() ([]byte, error) {
	if len(s) == 1 {
		return json.Marshal(s[0])
	}
	return json.Marshal([]string(s))
}

const iamVersion = "2012-10-17"

// arn builds an ARN with pseudo-parameter placeholders.
func arn(service, region, account, resource string) string {
	return "arn:${AWS::Partition}:" + service + ":" + region + ":" + account + ":" + resource
}

const (
	thisRegion  = "${AWS::Region}"
	thisAccount = "${AWS::AccountId}"
)

// RoleSet is the IAM generated for one policy.
type RoleSet struct {
	InstancePolicy   PolicyDocument
	InstanceTrust    PolicyDocument
	AutomationPolicy PolicyDocument
	AutomationTrust  PolicyDocument
	WindowPolicy     PolicyDocument
	WindowTrust      PolicyDocument
	// InstanceManagedPolicies are attached to the instance role so the SSM
	// agent can register and receive commands.
	InstanceManagedPolicies []string
}

func serviceTrust(service string, confusedDeputy bool) PolicyDocument {
	st := Statement{
		Effect:    "Allow",
		Principal: &Principal{Service: Strings{service}},
		Action:    Strings{"sts:AssumeRole"},
	}
	if confusedDeputy {
		// Systems Manager assumes the role on behalf of this account only.
		st.Condition = Condition{"StringEquals": {"aws:SourceAccount": Strings{thisAccount}}}
	}
	return PolicyDocument{Version: iamVersion, Statement: []Statement{st}}
}

// targetTagCondition restricts a statement to instances carrying the
// policy's target tags: keys are ANDed, values of one key ORed, as the
// maintenance-window target does.
func targetTagCondition(prefix string, targets []TagFilter) map[string]Strings {
	m := map[string]Strings{}
	for _, t := range targets {
		m[prefix+t.Key] = Strings(t.Values)
	}
	return m
}

// createSnapshotStatements let a principal snapshot the target instances
// and nothing else: CreateSnapshots only on instances with the target tags,
// only producing snapshots that carry this policy's tag from the moment they
// exist (pruning and protection rely on it), and CreateTags only as part of
// that call. The instance role has them, and so has the automation role of
// a stopped policy, which snapshots the instance itself.
func createSnapshotStatements(p *PolicyPlan) []Statement {
	policyTag := map[string]Strings{"aws:RequestTag/" + TagPolicy: {p.Names.Policy}}
	return []Statement{
		{
			Sid:       "SnapshotOnlyTargetInstances",
			Effect:    "Allow",
			Action:    Strings{"ec2:CreateSnapshots"},
			Resource:  Strings{arn("ec2", thisRegion, thisAccount, "instance/*")},
			Condition: Condition{"StringEquals": targetTagCondition("ec2:ResourceTag/", p.Targets)},
		},
		{
			Sid:      "SnapshotAttachedVolumes",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateSnapshots"},
			Resource: Strings{arn("ec2", thisRegion, thisAccount, "volume/*")},
		},
		{
			Sid:       "CreateOnlyPolicyTaggedSnapshots",
			Effect:    "Allow",
			Action:    Strings{"ec2:CreateSnapshots"},
			Resource:  Strings{arn("ec2", thisRegion, "", "snapshot/*")},
			Condition: Condition{"StringEquals": policyTag},
		},
		{
			Sid:      "TagSnapshotsOnlyAtCreation",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateTags"},
			Resource: Strings{arn("ec2", thisRegion, "", "snapshot/*")},
			Condition: Condition{"StringEquals": map[string]Strings{
				"ec2:CreateAction":            {"CreateSnapshots"},
				"aws:RequestTag/" + TagPolicy: {p.Names.Policy},
			}},
		},
	}
}

func buildRoles(p *PolicyPlan) RoleSet {
	n := p.Names
	instance := PolicyDocument{Version: iamVersion, Statement: createSnapshotStatements(p)}
	automation := PolicyDocument{Version: iamVersion, Statement: []Statement{
		{
			Sid:      "RunSnapshotDocument",
			Effect:   "Allow",
			Action:   Strings{"ssm:SendCommand"},
			Resource: Strings{arn("ssm", thisRegion, thisAccount, "document/"+p.SharedName(LinuxSnapshotDocument))},
		},
		{
			Sid:       "OnTargetInstancesOnly",
			Effect:    "Allow",
			Action:    Strings{"ssm:SendCommand"},
			Resource:  Strings{arn("ec2", thisRegion, thisAccount, "instance/*")},
			Condition: Condition{"StringEquals": targetTagCondition("ssm:resourceTag/", p.Targets)},
		},
		{
			// These read-only calls do not support resource-level
			// permissions; IAM requires "*".
			Sid:    "FollowCommandAndInstance",
			Effect: "Allow",
			Action: Strings{
				"ec2:DescribeInstances",
				"ssm:DescribeInstanceInformation",
				"ssm:GetCommandInvocation",
				"ssm:ListCommandInvocations",
				"ssm:ListCommands",
			},
			Resource: Strings{"*"},
		},
	}}
	if p.Retention != nil {
		automation.Statement = append(automation.Statement,
			Statement{
				Sid:      "ListSnapshotsToPrune",
				Effect:   "Allow",
				Action:   Strings{"ec2:DescribeSnapshots"},
				Resource: Strings{"*"},
			},
			Statement{
				// The prune step re-checks the tags itself; IAM makes sure
				// that even a faulty step cannot delete another policy's
				// snapshot, or one that was never tagged by ssm-backup.
				Sid:       "DeleteOnlyThisPolicysSnapshots",
				Effect:    "Allow",
				Action:    Strings{"ec2:DeleteSnapshot"},
				Resource:  Strings{arn("ec2", thisRegion, "", "snapshot/*")},
				Condition: Condition{"StringEquals": {"ec2:ResourceTag/" + TagPolicy: {n.Policy}}},
			})
	}
	if p.hasPruneStep() {
		// The prune step reads the status of the runs that took the
		// snapshots, so that the sets of failed runs never count as backups.
		automation.Statement = append(automation.Statement, Statement{
			Sid:      "ReadRunStatusToPrune",
			Effect:   "Allow",
			Action:   Strings{"ssm:GetAutomationExecution"},
			Resource: Strings{arn("ssm", thisRegion, thisAccount, "automation-execution/*")},
		})
	}
	window := PolicyDocument{Version: iamVersion, Statement: []Statement{
		{
			Sid:      "StartBackupRunbook",
			Effect:   "Allow",
			Action:   Strings{"ssm:StartAutomationExecution"},
			Resource: Strings{arn("ssm", thisRegion, thisAccount, "automation-definition/"+n.Runbook+":*")},
		},
		{
			Sid:      "FollowBackupRunbook",
			Effect:   "Allow",
			Action:   Strings{"ssm:GetAutomationExecution"},
			Resource: Strings{arn("ssm", thisRegion, thisAccount, "automation-execution/*")},
		},
		{
			Sid:       "PassAutomationRoleToSystemsManager",
			Effect:    "Allow",
			Action:    Strings{"iam:PassRole"},
			Resource:  Strings{roleARN(n.AutomationRole)},
			Condition: Condition{"StringEquals": {"iam:PassedToService": {"ssm.amazonaws.com"}}},
		},
	}}
	// Copies, archive, write-once denials, the drill (lifecycle_iam.go).
	addLifecycleStatements(p, &instance, &automation, &window)
	return RoleSet{
		InstancePolicy:          instance,
		InstanceTrust:           serviceTrust("ec2.amazonaws.com", false),
		AutomationPolicy:        automation,
		AutomationTrust:         serviceTrust("ssm.amazonaws.com", true),
		WindowPolicy:            window,
		WindowTrust:             serviceTrust("ssm.amazonaws.com", true),
		InstanceManagedPolicies: []string{"arn:${AWS::Partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"},
	}
}

func roleARN(name string) string {
	return "arn:${AWS::Partition}:iam::" + thisAccount + ":role" + IAMPath + name
}
