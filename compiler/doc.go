// Package compiler turns validated backup policies into the files AWS needs:
// it lowers each policy to a plan (the strategy for its platform and
// consistency level, and the names of every resource), then emits Systems
// Manager documents, maintenance-window API inputs, IAM policies, one
// CloudFormation template for the set and a Markdown summary — all in
// memory, deterministic, byte-identical on any machine.
//
// It reads no files and no clock: the caller passes file contents and the
// instant from which the summary lists next runs.
package compiler
