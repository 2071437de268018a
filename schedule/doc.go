// Package schedule parses and evaluates AWS Systems Manager maintenance-window
// schedule expressions: cron(...), rate(...) and at(...).
//
// It answers three questions about an expression, for validation and for the
// people who review compiled output:
//
//   - Is it one that Systems Manager accepts for a maintenance window? Parse
//     reports every problem at once, each with the byte range it concerns, so
//     the caller can point at the exact column of a policy file.
//   - When does it run? Next lists the coming runs in an IANA time zone, with an
//     optional schedule offset in days; MinInterval gives the shortest gap
//     between runs; DSTAmbiguities finds runs that daylight saving time skips
//     or that fall in a repeated hour.
//   - What does it mean? Describe renders it in plain English.
//
// The rules follow AWS's "Reference: Cron and rate expressions for Systems
// Manager" (maintenance-window section), the CreateMaintenanceWindow API
// (Schedule, ScheduleTimezone, ScheduleOffset) and, where Systems Manager says
// nothing, the EventBridge cron dialect it shares. Each rule's source is noted
// next to the code that enforces it.
//
// Maintenance windows differ from EventBridge rules: a cron expression may
// start with an optional seconds field, runs may not come more often than every
// five minutes, and expressions are evaluated in the window's time zone.
// State Manager associations accept a narrower set; this package does not
// model them.
//
// The package knows nothing of backup policies, YAML or files. It is pure: it
// never reads the clock, the environment or the disk (LoadLocation reads only
// the time zone database), so every answer depends on its arguments alone.
package schedule
