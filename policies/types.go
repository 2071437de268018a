package policies

import "github.com/invopop/jsonschema"

// The types in this file are the policy language. They are the source of the
// JSON Schema (schemas/policy.schema.json): the `jsonschema` tags carry the
// descriptions, enums, patterns and examples editors show. Rules a schema
// cannot express live in validate.go.

// APIVersion and Kind identify a v1 backup policy.
const (
	APIVersion = "ssm-backup/v1"
	Kind       = "BackupPolicy"
)

// Policy is one backup policy document.
type Policy struct {
	APIVersion string   `yaml:"apiVersion" json:"apiVersion" jsonschema:"required,enum=ssm-backup/v1,description=Version of the policy language."`
	Kind       string   `yaml:"kind" json:"kind" jsonschema:"required,enum=BackupPolicy,description=Kind of document."`
	Metadata   Metadata `yaml:"metadata" json:"metadata" jsonschema:"required,description=Name and description of the policy."`
	Spec       Spec     `yaml:"spec" json:"spec" jsonschema:"required,description=What to back up\\, how consistently\\, when\\, and how long to keep it."`

	// Source records where the policy was read from; it is not part of the language.
	Source *Source `yaml:"-" json:"-"`
}

// Metadata names and describes a policy.
type Metadata struct {
	Name        string `yaml:"name" json:"name" jsonschema:"required,pattern=^[a-z0-9]([a-z0-9-]{0\\,38}[a-z0-9])?$,maxLength=40,description=Unique name in the policy set; names every generated resource. Lower-case letters\\, digits and hyphens\\, 1-40 characters.,example=mysql-fleet"`
	Description string `yaml:"description,omitempty" json:"description,omitempty" jsonschema:"maxLength=128,description=What the policy protects; shown in documents and the summary."`
}

// Spec is what a policy asks for.
type Spec struct {
	Engine       Engine            `yaml:"engine,omitempty" json:"engine,omitempty" jsonschema:"enum=ssm,enum=backup,enum=dlm,default=ssm,description=Which AWS service takes the snapshots: ssm (Systems Manager maintenance windows and runbooks; every feature)\\, backup (an AWS Backup plan\\, vault and selection) or dlm (an Amazon Data Lifecycle Manager policy\\, with this policy's quiesce script as its pre/post script). A field an engine cannot express is an error that names the engines that can."`
	Platform     Platform          `yaml:"platform" json:"platform" jsonschema:"required,enum=linux,enum=windows,description=Operating system of the target instances."`
	Targets      Targets           `yaml:"targets" json:"targets" jsonschema:"required,description=Which instances the policy backs up."`
	Volumes      VolumeSelection   `yaml:"volumes,omitempty" json:"volumes,omitempty" jsonschema:"enum=all,enum=data,enum=root,default=all,description=Which EBS volumes of each instance to snapshot: all\\, data (all but the root volume) or root."`
	Consistency  Consistency       `yaml:"consistency" json:"consistency" jsonschema:"required,enum=crash,enum=filesystem,enum=application,enum=stopped,description=crash: no quiescing; filesystem: sync and freeze data file systems; application: quiesce the apps then freeze; stopped: stop the instance\\, snapshot\\, start it."`
	Apps         []App             `yaml:"apps,omitempty" json:"apps,omitempty" jsonschema:"description=Applications to quiesce before the file systems are frozen (consistency: application)."`
	Mounts       []string          `yaml:"mounts,omitempty" json:"mounts,omitempty" jsonschema:"minItems=1,pattern=^/[A-Za-z0-9._/-]*$,description=Linux mount points to freeze. Default: every ext4 or xfs file system on an EBS volume of the instance except / and the file systems holding the SSM agent\\, its logs and /tmp.,example=/var/lib/mysql"`
	MaxFreeze    *Duration         `yaml:"maxFreeze,omitempty" json:"maxFreeze,omitempty" jsonschema:"default=10s,example=10s,description=Longest time file systems and locks may be held. A watchdog releases them after this even if the script dies. Default 10s (30s with engine dlm\\, whose hold lasts until its post-script arrives); 1s to 60s."`
	Windows      *WindowsSettings  `yaml:"windows,omitempty" json:"windows,omitempty" jsonschema:"description=Windows-only settings."`
	Schedule     Schedule          `yaml:"schedule" json:"schedule" jsonschema:"required,description=When the maintenance window opens and how many instances it backs up at once."`
	Retention    *Retention        `yaml:"retention,omitempty" json:"retention,omitempty" jsonschema:"description=How many snapshots or how long to keep them. Prunes only snapshots this policy created."`
	Copies       []Copy            `yaml:"copies,omitempty" json:"copies,omitempty" jsonschema:"maxItems=5,description=Copies to other regions or accounts (at most 5 destinations)."`
	Archive      *Archive          `yaml:"archive,omitempty" json:"archive,omitempty" jsonschema:"description=Move snapshots to the EBS archive tier after a while."`
	Protection   *Protection       `yaml:"protection,omitempty" json:"protection,omitempty" jsonschema:"description=Extra protection of the snapshots against deletion. The generated roles never delete or share them anyway\\, except retention and the copies the policy asks for."`
	Tags         map[string]string `yaml:"tags,omitempty" json:"tags,omitempty" jsonschema:"description=Tags applied to every snapshot at creation and to the generated resources: at most 40; ASCII letters\\, digits\\, spaces and _ . : / = + @ -; keys starting with aws: or ssm-backup: are reserved."`
	RestoreDrill *RestoreDrill     `yaml:"restoreDrill,omitempty" json:"restoreDrill,omitempty" jsonschema:"description=A scheduled drill that proves the newest snapshot restores."`
	Backup       *BackupSettings   `yaml:"backup,omitempty" json:"backup,omitempty" jsonschema:"description=AWS Backup settings (engine: backup only)."`
	DLM          *DLMSettings      `yaml:"dlm,omitempty" json:"dlm,omitempty" jsonschema:"description=Amazon Data Lifecycle Manager settings (engine: dlm only)."`
	Lint         *Lint             `yaml:"lint,omitempty" json:"lint,omitempty" jsonschema:"description=How ssm-backup checks this policy: warnings to leave out."`
}

// Platform is the operating system of the targets.
type Platform string

const (
	Linux   Platform = "linux"
	Windows Platform = "windows"
)

// VolumeSelection says which volumes of an instance are snapshotted.
type VolumeSelection string

const (
	AllVolumes  VolumeSelection = "all"
	DataVolumes VolumeSelection = "data"
	RootVolume  VolumeSelection = "root"
)

// Consistency is the level of consistency a snapshot must reach.
type Consistency string

const (
	Crash       Consistency = "crash"
	Filesystem  Consistency = "filesystem"
	Application Consistency = "application"
	Stopped     Consistency = "stopped"
)

// Targets selects instances by tag: every key must match (AND); a list of
// values matches any of them (OR).
type Targets struct {
	Tags map[string]StringList `yaml:"tags" json:"tags" jsonschema:"required,description=Tag keys and values the instances carry (1 to 5 keys). All keys must match; a list of values matches any of them."`
	// ExpectedInstances is how big the fleet is, as far as the policy's
	// author knows; nothing is deployed from it. It lets validation tell
	// whether the window is long enough (W007).
	ExpectedInstances *int `yaml:"expectedInstances,omitempty" json:"expectedInstances,omitempty" jsonschema:"minimum=1,example=40,description=About how many instances the tags select. Optional; with it validation warns (W007) when the window cannot back them all up at maxConcurrency\\, counting about 5 minutes per instance."`
}

// App is an application quiesced before the freeze.
type App struct {
	Type            AppType   `yaml:"type" json:"type" jsonschema:"required,enum=mysql,enum=mariadb,enum=postgresql,enum=custom,enum=sqlserver,enum=exchange,description=Application kind. sqlserver and exchange are VSS writers (windows)."`
	DefaultsFile    string    `yaml:"defaultsFile,omitempty" json:"defaultsFile,omitempty" jsonschema:"pattern=^/[A-Za-z0-9._/-]*$,description=mysql/mariadb: option file on the instance with the credentials (never in the policy).,example=/etc/ssm-backup/mysql.cnf"`
	LockWaitTimeout *Duration `yaml:"lockWaitTimeout,omitempty" json:"lockWaitTimeout,omitempty" jsonschema:"default=5s,example=5s,description=mysql/mariadb: how long FLUSH TABLES WITH READ LOCK may wait before the run fails. Default 5s; 1s to 60s."`
	PreFlush        *bool     `yaml:"preFlush,omitempty" json:"preFlush,omitempty" jsonschema:"default=true,description=mysql/mariadb: flush tables before taking the lock to shorten it. Default true."`
	Service         string    `yaml:"service,omitempty" json:"service,omitempty" jsonschema:"pattern=^[A-Za-z0-9_.-]{1\\,64}$,description=postgresql: libpq service name (from the service file) to connect with; default: local socket\\, peer authentication as postgres."`
	ServiceFile     string    `yaml:"serviceFile,omitempty" json:"serviceFile,omitempty" jsonschema:"pattern=^/[A-Za-z0-9._/-]*$,description=postgresql: path of the libpq service file on the instance."`
	Pre             string    `yaml:"pre,omitempty" json:"pre,omitempty" jsonschema:"description=custom: absolute path of the executable run before the freeze (required for custom); on windows an absolute Windows path of an .exe or .cmd or .bat or .ps1 file.,example=/usr/local/sbin/quiesce"`
	Post            string    `yaml:"post,omitempty" json:"post,omitempty" jsonschema:"description=custom: absolute path of the executable run after the thaw (on windows: after the snapshot request) whenever pre ran."`
	Timeout         *Duration `yaml:"timeout,omitempty" json:"timeout,omitempty" jsonschema:"description=custom: time limit for pre and for post each; 1s to 1h.,example=30s"`
}

// AppType is the kind of application.
type AppType string

const (
	MySQL      AppType = "mysql"
	MariaDB    AppType = "mariadb"
	PostgreSQL AppType = "postgresql"
	Custom     AppType = "custom"
	SQLServer  AppType = "sqlserver"
	Exchange   AppType = "exchange"
)

// WindowsSettings tune the Windows (VSS) path.
type WindowsSettings struct {
	VSS             string `yaml:"vss,omitempty" json:"vss,omitempty" jsonschema:"enum=managed,enum=diskshadow,default=managed,description=managed: AWSEC2-CreateVssSnapshot with AwsVssComponents; diskshadow: a DISKSHADOW script."`
	CopyOnly        *bool  `yaml:"copyOnly,omitempty" json:"copyOnly,omitempty" jsonschema:"default=true,description=VSS copy-only backup (does not truncate SQL Server logs). Default true."`
	NoWriters       *bool  `yaml:"noWriters,omitempty" json:"noWriters,omitempty" jsonschema:"default=false,description=Exclude application VSS writers. Default false."`
	InstallPackages *bool  `yaml:"installPackages,omitempty" json:"installPackages,omitempty" jsonschema:"default=false,description=Install AwsVssComponents before the backup when it is missing. Default false."`
}

// Schedule says when the maintenance window opens and how the fleet is run.
type Schedule struct {
	Expression     string `yaml:"expression" json:"expression" jsonschema:"required,description=Systems Manager cron()\\, rate() or at() expression.,example=cron(0 0 * * ? *)"`
	Timezone       string `yaml:"timezone,omitempty" json:"timezone,omitempty" jsonschema:"default=UTC,description=IANA time zone the cron expression is read in.,example=Europe/Berlin"`
	Offset         *int   `yaml:"offset,omitempty" json:"offset,omitempty" jsonschema:"minimum=1,maximum=6,description=Days to wait after the cron date before the window opens (cron only)."`
	Window         Window `yaml:"window,omitempty" json:"window,omitempty" jsonschema:"description=Length and cutoff of the maintenance window."`
	MaxConcurrency string `yaml:"maxConcurrency,omitempty" json:"maxConcurrency,omitempty" jsonschema:"pattern=^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$,maxLength=7,default=1,description=Instances backed up at once: a number or a percentage."`
	MaxErrors      string `yaml:"maxErrors,omitempty" json:"maxErrors,omitempty" jsonschema:"pattern=^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$,maxLength=7,default=1,description=Failed instances after which no more are started: a number or a percentage."`
}

// Window is the maintenance window's length and cutoff.
type Window struct {
	Duration *Duration `yaml:"duration,omitempty" json:"duration,omitempty" jsonschema:"default=2h,example=2h,description=How long the window stays open: whole hours\\, 1h to 24h. Default 2h."`
	Cutoff   *Duration `yaml:"cutoff,omitempty" json:"cutoff,omitempty" jsonschema:"default=0h,example=1h,description=Stop starting new instances this long before the window closes: whole hours\\, 0h to 23h\\, less than duration. Default 0h."`
}

// Retention is how long snapshots are kept.
type Retention struct {
	Count   *int      `yaml:"count,omitempty" json:"count,omitempty" jsonschema:"oneof_required=count,minimum=1,maximum=1000,description=Keep the newest N snapshots of each instance."`
	MaxAge  *Duration `yaml:"maxAge,omitempty" json:"maxAge,omitempty" jsonschema:"oneof_required=maxAge,description=Delete snapshots older than this; at least 1d.,example=30d"`
	MinKeep *int      `yaml:"minKeep,omitempty" json:"minKeep,omitempty" jsonschema:"minimum=1,maximum=1000,description=Never keep fewer than this many snapshots of an instance\\, whatever their age (with maxAge)."`
}

// Copy is a copy of each snapshot to another region and/or account.
type Copy struct {
	Region    string     `yaml:"region,omitempty" json:"region,omitempty" jsonschema:"anyof_required=region,pattern=^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$,description=Destination region.,example=us-west-2"`
	Account   string     `yaml:"account,omitempty" json:"account,omitempty" jsonschema:"anyof_required=account,pattern=^[0-9]{12}$,description=Destination AWS account id.,example=111122223333"`
	KMSKeyID  string     `yaml:"kmsKeyId,omitempty" json:"kmsKeyId,omitempty" jsonschema:"description=KMS key for the copy in the destination."`
	Retention *Retention `yaml:"retention,omitempty" json:"retention,omitempty" jsonschema:"description=Retention of the copies; default: the policy's."`
}

// Archive moves snapshots to the archive tier.
type Archive struct {
	After Duration `yaml:"after" json:"after" jsonschema:"required,description=Age at which a snapshot moves to the archive tier; at least 90d.,example=90d"`
}

// Protection guards the policy's snapshots beyond the write-once IAM the
// compiler always generates.
type Protection struct {
	RecycleBinDays *int `yaml:"recycleBinDays,omitempty" json:"recycleBinDays,omitempty" jsonschema:"required,minimum=1,maximum=365,example=7,description=Keep deleted snapshots of this policy in the Recycle Bin for this many days (1 to 365)\\, where they can be recovered; they are billed as usual meanwhile. Covers the region the set is deployed to."`
}

// RestoreDrill schedules a restore test.
type RestoreDrill struct {
	Expression string `yaml:"expression" json:"expression" jsonschema:"required,description=Systems Manager cron() or rate() expression for the drill.,example=cron(0 6 ? * SUN *)"`
	Timezone   string `yaml:"timezone,omitempty" json:"timezone,omitempty" jsonschema:"description=IANA time zone; default: the schedule's."`
	Instance   string `yaml:"instance,omitempty" json:"instance,omitempty" jsonschema:"pattern=^i-[0-9a-f]{8}([0-9a-f]{9})?$,description=Instance the restored volume is attached to for checks."`
}

// Lint tunes the checks run on a policy.
type Lint struct {
	// Ignore lists warning codes (W001...) that are not reported for this
	// policy: an ignored warning is not printed and does not fail --strict.
	Ignore []string `yaml:"ignore,omitempty" json:"ignore,omitempty" jsonschema:"uniqueItems=true,description=Warning codes not to report for this policy\\, e.g. W003. An ignored warning is not printed and does not fail --strict. W006 (two policies select the same instances) is silenced when either policy ignores it."`
}

// JSONSchemaExtend lists the warning codes a policy may ignore, from the
// Warnings table, so editors complete them and flag unknown ones.
func (Lint) JSONSchemaExtend(s *jsonschema.Schema) {
	ignore, ok := s.Properties.Get("ignore")
	if !ok || ignore.Items == nil {
		return
	}
	ignore.Items.Enum = nil
	for _, w := range Warnings {
		ignore.Items.Enum = append(ignore.Items.Enum, w.Code)
	}
}
