// Package deploy ships a compiled CloudFormation template to a stack through
// a change set: it creates the change set, shows it, executes it when told
// to, follows the stack events until the stack settles, and explains every
// failure in words a person can act on. It also writes the IAM policy the
// deploying principal needs.
//
// It talks to AWS only through the narrow CloudFormationAPI and S3API
// interfaces, which the aws-sdk-go-v2 clients satisfy, so the flow runs the
// same against AWS, a local HTTP double of the API, or an in-memory fake. It
// knows nothing of policies or of the compiler's stages: its input is the
// template's bytes. The clock and the sleeper are injected; the package keeps
// no state of its own.
package deploy
