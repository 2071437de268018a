package documents

import (
	_ "embed"
	"strings"
)

// windowsDiskshadowScript takes the VSS snapshot with DISKSHADOW; its
// header states the steps.
//
//go:embed scripts/windows-diskshadow.ps1
var windowsDiskshadowScript string

// Parameters of the DISKSHADOW command document. Each reaches the script
// as a single-quoted PowerShell string, so every allowedPattern excludes
// the quote.
const (
	DiskshadowParamPolicyName        = "PolicyName"
	DiskshadowParamRunID             = "RunId"
	DiskshadowParamVolumes           = "Volumes"
	DiskshadowParamExcludeDataVolume = "ExcludeDataVolumeIds"
	DiskshadowParamCopyOnly          = "CopyOnly"
	DiskshadowParamNoWriters         = "NoWriters"
	DiskshadowParamDescription       = "Description"
	DiskshadowParamTags              = "SnapshotTags"

	// TagVSSShadowSet is the snapshot tag the DISKSHADOW script sets to the
	// id of the shadow set the snapshots carry, without braces.
	TagVSSShadowSet = "ssm-backup:vss-shadow-set"

	// DiskshadowTimeoutSeconds bounds the script: DISKSHADOW's writer
	// gathering and shadow creation, one CreateSnapshots, the cleanup.
	DiskshadowTimeoutSeconds = 900
)

const (
	patternPolicyName = `^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`
	patternRunID      = `^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$`
	// patternVSSTags is "Key=k,Value=v" pairs joined by ";" of the tag
	// characters ssm-backup allows, less the separators; validation limits
	// their number and length.
	vssTagText        = `[A-Za-z0-9 _.:/+@-]`
	patternVSSTags    = `^(Key=` + vssTagText + `+,Value=` + vssTagText + `*(;Key=` + vssTagText + `+,Value=` + vssTagText + `*)*)?$`
	patternDiskshadow = `^[A-Za-z0-9 _.:/()+@,-]{0,255}$`
	// patternVolumeIDs is up to 40 EBS volume ids joined by commas, as
	// many as CreateSnapshots excludes, or none.
	patternVolumeIDs = `^(none|vol-[0-9a-f]{8,17}(,vol-[0-9a-f]{8,17}){0,39})$`
)

// WindowsDiskshadowCommand is the Command document every DISKSHADOW policy
// of a set runs (aws:runPowerShellScript); each runbook passes its policy's
// values.
func WindowsDiskshadowCommand(description string) CommandDocument {
	boolean := func(desc, def string) Parameter {
		return Parameter{Type: "String", Description: desc, Default: def, AllowedValues: []string{"True", "False"}}
	}
	return CommandDocument{
		SchemaVersion: "2.2",
		Description:   description,
		Parameters: map[string]Parameter{
			DiskshadowParamPolicyName:        {Type: "String", Description: "Policy name, tagged as ssm-backup:policy on every snapshot (the IAM policy requires it).", AllowedPattern: patternPolicyName},
			DiskshadowParamRunID:             {Type: "String", Description: "Id of the Automation execution that runs this command, tagged as ssm-backup:run-id. Empty when run on its own.", Default: "", AllowedPattern: patternRunID},
			DiskshadowParamVolumes:           {Type: "String", Description: "all: every NTFS volume on an EBS disk; data: leave the boot disk out of the shadow set and the snapshots; root: only the boot disk's volumes, and a CreateSnapshots that excludes ExcludeDataVolumeIds.", Default: "all", AllowedValues: []string{"all", "data", "root"}},
			DiskshadowParamExcludeDataVolume: {Type: "String", Description: "With Volumes root: the instance's data volume ids, joined by commas, that CreateSnapshots excludes (the runbook lists them). none when the root volume is the only one, or with Volumes all or data.", Default: "none", AllowedPattern: patternVolumeIDs},
			DiskshadowParamCopyOnly:          boolean("True: a copy backup, DISKSHADOW's default, which leaves SQL Server's backup chain alone; False: a full backup (BEGIN BACKUP ... END BACKUP).", "True"),
			DiskshadowParamNoWriters:         boolean("True: leave the application VSS writers out (SET CONTEXT PERSISTENT NOWRITERS); False: SET CONTEXT PERSISTENT, with the writers.", "False"),
			DiskshadowParamDescription:       {Type: "String", Description: "Description of the snapshots.", Default: "ssm-backup", AllowedPattern: patternDiskshadow},
			DiskshadowParamTags:              {Type: "String", Description: "User tags of the snapshots: Key=k,Value=v pairs separated by ;.", Default: "", AllowedPattern: patternVSSTags},
		},
		MainSteps: []CommandStep{{
			Action:       "aws:runPowerShellScript",
			Name:         "diskshadowSnapshot",
			Precondition: &Precondition{StringEquals: []string{"platformType", "Windows"}},
			Inputs: RunScriptInputs{
				TimeoutSeconds: "900",
				RunCommand:     strings.Split(strings.TrimSuffix(WindowsDiskshadowRunCommand(), "\n"), "\n"),
			},
		}},
	}
}

// WindowsDiskshadowRunCommand is the PowerShell the document runs: the
// parameters as single-quoted strings in $SsmBackup, then the script.
func WindowsDiskshadowRunCommand() string {
	fields := [][2]string{}
	for _, p := range []string{DiskshadowParamPolicyName, DiskshadowParamRunID, DiskshadowParamVolumes, DiskshadowParamExcludeDataVolume, DiskshadowParamCopyOnly, DiskshadowParamNoWriters, DiskshadowParamDescription} {
		fields = append(fields, [2]string{p, p})
	}
	return powerShellRunCommand(append(fields, [2]string{"Tags", DiskshadowParamTags}), windowsDiskshadowScript)
}

// powerShellRunCommand is a script preceded by the hashtable $SsmBackup
// that it reads its inputs from: each field (key, document parameter)
// holds the parameter as a single-quoted string, which is why every
// parameter's allowedPattern excludes the quote.
func powerShellRunCommand(fields [][2]string, script string) string {
	var b strings.Builder
	b.WriteString("$SsmBackup = @{\n")
	for _, f := range fields {
		b.WriteString("    " + f[0] + " = '{{ " + f[1] + " }}'\n")
	}
	b.WriteString("}\n")
	b.WriteString(script)
	return b.String()
}

// WindowsDiskshadowScript returns the script's source.
func WindowsDiskshadowScript() []byte { return []byte(windowsDiskshadowScript) }
