package policies

import (
	"strings"
	"testing"
)

// TestProtectionRules checks spec.protection: recycleBinDays 1 to 365,
// required inside protection, an integer, with positions.
func TestProtectionRules(t *testing.T) {
	const at = "  copies: [{region: us-west-2}]\n"
	for _, tc := range []struct {
		name, add string
		want      []string
	}{
		{"valid", "  protection: {recycleBinDays: 7}\n", nil},
		{"longest", "  protection: {recycleBinDays: 365}\n", nil},
		{"zero", "  protection: {recycleBinDays: 0}\n", []string{"p.yaml:15:32: error: recycleBinDays 0 is out of range", "1 to 365 days"}},
		{"too long", "  protection:\n    recycleBinDays: 366\n", []string{"p.yaml:16:21: error: recycleBinDays 366 is out of range"}},
		{"missing", "  protection: {}\n", []string{`error: missing required field "recycleBinDays" in spec.protection`}},
		{"misspelt", "  protection: {recycleBinDay: 7}\n", []string{`unknown field "recycleBinDay"`, `did you mean "recycleBinDays"?`}},
		{"not a number", "  protection: {recycleBinDays: week}\n", []string{"p.yaml:15:32: error: spec.protection.recycleBinDays must be a whole number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := printed(check("p.yaml", []byte(edit(t, at, at+tc.add))))
			if tc.want == nil && out != "" {
				t.Fatalf("unexpected diagnostics:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("diagnostics lack %q:\n%s", w, out)
				}
			}
			if strings.Count(out, "error:") > 1 {
				t.Errorf("one mistake, several errors:\n%s", out)
			}
		})
	}
}
