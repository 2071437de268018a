// Package policies is the backup policy language: its Go types (the source of
// the JSON Schema), a strict YAML loader that keeps the position of every
// field, defaults, and validation that reports every problem at once as
// diagnostics with file, line and column.
//
// It knows nothing of Systems Manager, CloudFormation or IAM: it says what a
// policy asks for, not how AWS is made to do it.
package policies
