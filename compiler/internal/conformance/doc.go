// Package conformance checks generated artifacts against AWS's published
// definitions: JSON Schemas (SSM Automation, CloudFormation resource provider
// schemas, cfn-lint's IAM policy schemas), the botocore SSM service model,
// and the documented structure of SSM Command documents (schemaVersion 2.2),
// for which AWS publishes no schema.
//
// It holds only what the tests of package compiler need and what no library
// does: translating the regular-expression dialects of those files to Go's
// RE2, walking a value against a botocore shape, resolving CloudFormation
// intrinsic functions to sample values, and the structural rules of Command
// documents. The reference files themselves live in testdata/reference; see
// SOURCES.md there for where each came from.
//
// It must not know about backup policies or the compiler: it checks JSON
// values against published rules, nothing more.
package conformance
