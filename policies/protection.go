package policies

// Recycle Bin retention rules keep deleted resources 1 to 365 days.
const (
	minRecycleBinDays = 1
	maxRecycleBinDays = 365
)

func (v *validator) protection() {
	pr := v.p.Spec.Protection
	if pr == nil || !v.given("spec.protection") {
		return
	}
	const p = "spec.protection.recycleBinDays"
	if !v.src.Has(p) && !v.src.isMisspelt(p) {
		v.require("spec.protection", "recycleBinDays", "add \"recycleBinDays: 7\" to keep deleted snapshots recoverable for 7 days, or remove protection")
		return
	}
	if !v.given(p) || pr.RecycleBinDays == nil {
		return
	}
	if d := *pr.RecycleBinDays; d < minRecycleBinDays || d > maxRecycleBinDays {
		v.errorf(p, "a Recycle Bin retention rule keeps deleted snapshots 1 to 365 days", "recycleBinDays %d is out of range", d)
	}
}
