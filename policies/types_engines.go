package policies

// Engine is the AWS service that takes a policy's snapshots.
type Engine string

const (
	// EngineSSM runs the policy with Systems Manager: a maintenance window
	// starts an Automation runbook per instance (the default).
	EngineSSM Engine = "ssm"
	// EngineBackup runs the policy as an AWS Backup plan.
	EngineBackup Engine = "backup"
	// EngineDLM runs the policy as an Amazon Data Lifecycle Manager policy.
	EngineDLM Engine = "dlm"
)

// EngineOrDefault is the engine the policy names, or ssm.
func (s Spec) EngineOrDefault() Engine {
	if s.Engine == "" {
		return EngineSSM
	}
	return s.Engine
}

// BackupSettings tune a policy run by AWS Backup.
type BackupSettings struct {
	Vault            *BackupVault `yaml:"vault,omitempty" json:"vault,omitempty" jsonschema:"description=The backup vault the recovery points are kept in; created with the policy."`
	CompletionWindow *Duration    `yaml:"completionWindow,omitempty" json:"completionWindow,omitempty" jsonschema:"default=7d,example=8h,description=How long a started backup job may run before AWS Backup cancels it: whole minutes\\, at least 1h. Default 7d (AWS Backup's)."`
}

// BackupVault is the vault of an AWS Backup policy.
type BackupVault struct {
	Name     string     `yaml:"name,omitempty" json:"name,omitempty" jsonschema:"pattern=^[a-zA-Z0-9_-]{2\\,50}$,description=Vault name: 2-50 letters\\, digits\\, hyphens and underscores. Default: ssm-backup-<policy name>.,example=prod-ec2"`
	KMSKeyID string     `yaml:"kmsKeyId,omitempty" json:"kmsKeyId,omitempty" jsonschema:"description=ARN of the KMS key that encrypts the vault's recovery points; default: the AWS Backup managed key.,example=arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"`
	Lock     *VaultLock `yaml:"lock,omitempty" json:"lock,omitempty" jsonschema:"description=AWS Backup Vault Lock: recovery points cannot be deleted before minRetention\\, nor kept past maxRetention\\, by anyone."`
}

// VaultLock is AWS Backup Vault Lock.
type VaultLock struct {
	MinRetention  Duration  `yaml:"minRetention" json:"minRetention" jsonschema:"required,example=7d,description=Shortest retention a recovery point in the vault may have: whole days\\, at least 1d."`
	MaxRetention  *Duration `yaml:"maxRetention,omitempty" json:"maxRetention,omitempty" jsonschema:"example=365d,description=Longest retention a recovery point in the vault may have: whole days\\, up to 36500d."`
	ChangeableFor *Duration `yaml:"changeableFor,omitempty" json:"changeableFor,omitempty" jsonschema:"example=3d,description=Compliance mode: the lock can be changed or removed for this long (whole days\\, at least 3d) and is then immutable\\, even for the account's root user. Without it the lock is in governance mode: users with the right IAM permissions can remove it."`
}

// DLMSettings tune a policy run by Amazon Data Lifecycle Manager.
type DLMSettings struct {
	OnScriptFailure string       `yaml:"onScriptFailure,omitempty" json:"onScriptFailure,omitempty" jsonschema:"enum=skip,enum=crash,default=skip,description=What Data Lifecycle Manager does with an instance whose pre-script (quiesce) fails: skip it (no snapshot this run) or take a crash-consistent snapshot anyway. Default skip."`
	FastRestore     *FastRestore `yaml:"fastRestore,omitempty" json:"fastRestore,omitempty" jsonschema:"description=Enable fast snapshot restore on the newest snapshots (billed per snapshot and Availability Zone hour)."`
}

// FastRestore is EBS fast snapshot restore for the newest snapshots.
type FastRestore struct {
	AvailabilityZones []string `yaml:"availabilityZones" json:"availabilityZones" jsonschema:"required,minItems=1,maxItems=10,uniqueItems=true,description=Availability Zones in which restores are fast (1 to 10).,example=eu-west-1a"`
	Count             int      `yaml:"count" json:"count" jsonschema:"required,minimum=1,maximum=1000,description=Keep fast snapshot restore on this many of the newest snapshots of each volume.,example=1"`
}
