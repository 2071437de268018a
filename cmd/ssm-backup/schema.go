package main

import (
	"github.com/spf13/cobra"

	"github.com/ssm-backup/ssm-backup/policies"
)

func newSchemaCmd(io *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the policy language",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := policies.JSONSchema()
			if err != nil {
				return err
			}
			_, err = io.out.Write(b)
			return err
		},
	}
}
