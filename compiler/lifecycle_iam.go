package compiler

// IAM of the lifecycle: what the automation role needs for copies, shares,
// pruning in copy regions and the archive tier; the explicit denials that
// make snapshots write-once for every generated role but the pruning one;
// and the restore drill's own role.

// TagDrill marks the volumes a restore drill creates; the drill role may
// attach, detach and delete only volumes carrying it.
const TagDrill = "ssm-backup:drill"

// snapshotsIn is the ARN pattern of the snapshots in one region.
func snapshotsIn(region string) string { return arn("ec2", region, "", "snapshot/*") }

// anySnapshot is every snapshot, in every region: copies carry the policy's
// tag too.
var anySnapshot = arn("ec2", "*", "", "snapshot/*")

func policyTagIs(prefix, policy string) map[string]Strings {
	return map[string]Strings{prefix + TagPolicy: {policy}}
}

// ec2ViaService names the EC2 endpoints of the regions involved: the key
// permissions are usable only through EBS.
func ec2ViaService(regions []string) Strings {
	out := Strings{"ec2." + thisRegion + ".amazonaws.com"}
	for _, r := range regions {
		out = append(out, "ec2."+r+".amazonaws.com")
	}
	return out
}

// kmsThroughEC2 lets EBS use KMS keys on the role's behalf, for encrypted
// snapshots and volumes, and only through EC2 in the regions named. The key
// policies must allow it too.
func kmsThroughEC2(sidPrefix string, regions []string) []Statement {
	via := ec2ViaService(regions)
	return []Statement{
		{
			Sid:    sidPrefix + "UseKeysOnlyThroughEC2",
			Effect: "Allow",
			Action: Strings{
				"kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext",
				"kms:ReEncryptFrom", "kms:ReEncryptTo",
			},
			Resource:  Strings{"*"},
			Condition: Condition{"StringEquals": {"kms:ViaService": via}},
		},
		{
			Sid:      sidPrefix + "LetEC2CreateKeyGrants",
			Effect:   "Allow",
			Action:   Strings{"kms:CreateGrant"},
			Resource: Strings{"*"},
			Condition: Condition{
				"StringEquals": {"kms:ViaService": via},
				"Bool":         {"kms:GrantIsForAWSResource": {"true"}},
			},
		},
	}
}

// writeOnceDeny is the explicit denial every generated role but the
// automation role carries: whatever else the role is granted, it cannot
// delete, share, unshare or untag a snapshot of this policy, in any region.
func writeOnceDeny(p *PolicyPlan) Statement {
	return Statement{
		Sid:       "SnapshotsOfThisPolicyAreWriteOnce",
		Effect:    "Deny",
		Action:    Strings{"ec2:DeleteSnapshot", "ec2:DeleteTags", "ec2:ModifySnapshotAttribute"},
		Resource:  Strings{anySnapshot},
		Condition: Condition{"StringEquals": policyTagIs("ec2:ResourceTag/", p.Names.Policy)},
	}
}

// addLifecycleStatements adds the lifecycle's permissions and denials to
// the roles of one policy.
func addLifecycleStatements(p *PolicyPlan, instance, automation, window *PolicyDocument) {
	n := p.Names
	own := policyTagIs("ec2:ResourceTag/", n.Policy)
	var allow []Statement
	if p.Retention == nil && (len(p.Copies) > 0 || p.Archive != nil) {
		allow = append(allow, Statement{
			Sid:      "ListSnapshotsOfThisPolicy",
			Effect:   "Allow",
			Action:   Strings{"ec2:DescribeSnapshots"},
			Resource: Strings{"*"},
		})
	}
	if regions := p.copyRegions(); len(regions) > 0 {
		var dest Strings
		for _, r := range regions {
			dest = append(dest, snapshotsIn(r))
		}
		allow = append(allow,
			Statement{
				Sid:       "CopyOnlyThisPolicysSnapshots",
				Effect:    "Allow",
				Action:    Strings{"ec2:CopySnapshot"},
				Resource:  Strings{snapshotsIn(thisRegion)},
				Condition: Condition{"StringEquals": own},
			},
			Statement{
				// The copy is a new snapshot in the destination region; it
				// must carry the policy's tag from the moment it exists.
				Sid:       "CreateCopiesTaggedWithThisPolicy",
				Effect:    "Allow",
				Action:    Strings{"ec2:CopySnapshot"},
				Resource:  dest,
				Condition: Condition{"StringEquals": policyTagIs("aws:RequestTag/", n.Policy)},
			},
			Statement{
				Sid:      "TagCopiesOnlyAtCreation",
				Effect:   "Allow",
				Action:   Strings{"ec2:CreateTags"},
				Resource: dest,
				Condition: Condition{"StringEquals": map[string]Strings{
					"ec2:CreateAction":            {"CopySnapshot"},
					"aws:RequestTag/" + TagPolicy: {n.Policy},
				}},
			},
		)
		allow = append(allow, kmsThroughEC2("Copies", regions)...)
	}
	if regions := p.prunedCopyRegions(); len(regions) > 0 {
		var res Strings
		for _, r := range regions {
			res = append(res, snapshotsIn(r))
		}
		allow = append(allow, Statement{
			// The prune step re-checks the policy, instance and source
			// region tags itself.
			Sid:       "DeleteOnlyThisPolicysCopies",
			Effect:    "Allow",
			Action:    Strings{"ec2:DeleteSnapshot"},
			Resource:  res,
			Condition: Condition{"StringEquals": own},
		})
	}
	accounts := p.shareAccounts()
	if len(accounts) > 0 {
		allow = append(allow, Statement{
			// The one ModifySnapshotAttribute any generated role has:
			// adding exactly the policy's accounts to its own snapshots.
			Sid:      "ShareOnlyWithTheCopyAccounts",
			Effect:   "Allow",
			Action:   Strings{"ec2:ModifySnapshotAttribute"},
			Resource: Strings{snapshotsIn(thisRegion)},
			Condition: Condition{"StringEquals": map[string]Strings{
				"ec2:ResourceTag/" + TagPolicy: {n.Policy},
				"ec2:Add/userId":               Strings(accounts),
			}},
		})
	}
	if p.Archive != nil {
		allow = append(allow,
			Statement{
				Sid:       "ArchiveOnlyThisPolicysSnapshots",
				Effect:    "Allow",
				Action:    Strings{"ec2:ModifySnapshotTier"},
				Resource:  Strings{snapshotsIn(thisRegion)},
				Condition: Condition{"StringEquals": own},
			},
			Statement{
				// Read-only, without resource-level permissions.
				Sid:      "ReadArchiveStatus",
				Effect:   "Allow",
				Action:   Strings{"ec2:DescribeSnapshotTierStatus"},
				Resource: Strings{"*"},
			},
		)
	}
	automation.Statement = append(automation.Statement, allow...)

	// Write-once. The automation role may delete (pruning) and share with
	// the policy's accounts; nothing else.
	deny := []Statement{
		{
			Sid:       "NeverMakeSnapshotsPublic",
			Effect:    "Deny",
			Action:    Strings{"ec2:ModifySnapshotAttribute"},
			Resource:  Strings{anySnapshot},
			Condition: Condition{"Null": {"ec2:Add/group": {"false"}}},
		},
		{
			Sid:       "KeepTheTagsOfThisPolicysSnapshots",
			Effect:    "Deny",
			Action:    Strings{"ec2:DeleteTags"},
			Resource:  Strings{anySnapshot},
			Condition: Condition{"StringEquals": own},
		},
	}
	if len(accounts) == 0 {
		deny = append(deny, Statement{
			Sid:       "NeverShareThisPolicysSnapshots",
			Effect:    "Deny",
			Action:    Strings{"ec2:ModifySnapshotAttribute"},
			Resource:  Strings{anySnapshot},
			Condition: Condition{"StringEquals": own},
		})
	} else {
		deny = append(deny,
			Statement{
				Sid:      "ShareWithNoOtherAccount",
				Effect:   "Deny",
				Action:   Strings{"ec2:ModifySnapshotAttribute"},
				Resource: Strings{anySnapshot},
				Condition: Condition{
					"StringEquals":                own,
					"ForAnyValue:StringNotEquals": {"ec2:Add/userId": Strings(accounts)},
				},
			},
			Statement{
				// A request that adds no account (a removal, a group)
				// is not a share the policy asked for.
				Sid:      "OnlyAddTheCopyAccounts",
				Effect:   "Deny",
				Action:   Strings{"ec2:ModifySnapshotAttribute"},
				Resource: Strings{anySnapshot},
				Condition: Condition{
					"StringEquals": own,
					"Null":         {"ec2:Add/userId": {"true"}},
				},
			})
	}
	automation.Statement = append(automation.Statement, deny...)
	instance.Statement = append(instance.Statement, writeOnceDeny(p))
	window.Statement = append(window.Statement, writeOnceDeny(p))

	if p.Drill != nil {
		d := n.drill()
		window.Statement = append(window.Statement,
			Statement{
				Sid:      "StartDrillRunbook",
				Effect:   "Allow",
				Action:   Strings{"ssm:StartAutomationExecution"},
				Resource: Strings{arn("ssm", thisRegion, thisAccount, "automation-definition/"+d.Runbook+":*")},
			},
			Statement{
				Sid:       "PassDrillRoleToSystemsManager",
				Effect:    "Allow",
				Action:    Strings{"iam:PassRole"},
				Resource:  Strings{roleARN(d.Role)},
				Condition: Condition{"StringEquals": {"iam:PassedToService": {"ssm.amazonaws.com"}}},
			})
	}
}

// buildDrillRoles is the restore drill's role: it may create volumes only
// from this policy's snapshots and only tagged as drill volumes, and
// attach, detach and delete only such volumes; it can never touch a
// snapshot beyond reading it, nor any other volume.
func buildDrillRoles(p *PolicyPlan) (policy, trust PolicyDocument) {
	n := p.Names
	d := n.drill()
	drillTag := map[string]Strings{"aws:RequestTag/" + TagDrill: {n.Policy}}
	volumes := arn("ec2", thisRegion, thisAccount, "volume/*")
	st := []Statement{
		{
			// Read-only calls without resource-level permissions.
			Sid:    "FindSnapshotsVolumesAndCommands",
			Effect: "Allow",
			Action: Strings{
				"ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:DescribeVolumes",
				"ssm:DescribeInstanceInformation", "ssm:GetCommandInvocation",
				"ssm:ListCommandInvocations", "ssm:ListCommands",
			},
			Resource: Strings{"*"},
		},
		{
			Sid:       "RestoreOnlyThisPolicysSnapshots",
			Effect:    "Allow",
			Action:    Strings{"ec2:CreateVolume"},
			Resource:  Strings{snapshotsIn(thisRegion)},
			Condition: Condition{"StringEquals": policyTagIs("ec2:ResourceTag/", n.Policy)},
		},
		{
			Sid:       "CreateOnlyDrillVolumes",
			Effect:    "Allow",
			Action:    Strings{"ec2:CreateVolume"},
			Resource:  Strings{volumes},
			Condition: Condition{"StringEquals": drillTag},
		},
		{
			Sid:      "TagDrillVolumesOnlyAtCreation",
			Effect:   "Allow",
			Action:   Strings{"ec2:CreateTags"},
			Resource: Strings{volumes},
			Condition: Condition{"StringEquals": map[string]Strings{
				"ec2:CreateAction":           {"CreateVolume"},
				"aws:RequestTag/" + TagDrill: {n.Policy},
			}},
		},
		{
			Sid:       "AttachDetachDeleteOnlyDrillVolumes",
			Effect:    "Allow",
			Action:    Strings{"ec2:AttachVolume", "ec2:DeleteVolume", "ec2:DetachVolume"},
			Resource:  Strings{volumes},
			Condition: Condition{"StringEquals": {"ec2:ResourceTag/" + TagDrill: {n.Policy}}},
		},
	}
	if p.Drill.Instance != "" {
		inst := arn("ec2", thisRegion, thisAccount, "instance/"+p.Drill.Instance)
		st = append(st,
			Statement{
				Sid:      "AttachOnlyToTheDrillInstance",
				Effect:   "Allow",
				Action:   Strings{"ec2:AttachVolume", "ec2:DetachVolume"},
				Resource: Strings{inst},
			},
			Statement{
				Sid:      "RunTheDrillCheck",
				Effect:   "Allow",
				Action:   Strings{"ssm:SendCommand"},
				Resource: Strings{arn("ssm", thisRegion, thisAccount, "document/"+d.CheckDocument), inst},
			})
	}
	st = append(st, kmsThroughEC2("Volumes", nil)...)
	st = append(st, writeOnceDeny(p))
	return PolicyDocument{Version: iamVersion, Statement: st}, serviceTrust("ssm.amazonaws.com", true)
}
