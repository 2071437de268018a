// Package review compares two compiled policy sets and says what a deploy of
// the newer one would change, in the terms a reviewer of a pull request
// thinks in: policies added and removed, schedules (with their next runs),
// targets, retention (and whether the next run deletes snapshots the old
// rule kept), snapshot settings, IAM permissions granted and withdrawn,
// resources CloudFormation would replace, and warnings that are new.
//
// It reads the compiled trees (compiler.Files), not the policies: whatever
// produced the older tree — a directory of committed output or the
// policies of a git revision compiled in memory — both sides are compared
// the same way, by what was generated. The reader is tolerant: a file it
// cannot find or read leaves that part of the comparison out and says so in
// the plan's notes; it never fails.
//
// It touches neither the disk, the clock nor git: the command line reads
// the trees and passes the instant next runs are listed from.
package review
