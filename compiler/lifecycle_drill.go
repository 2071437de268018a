package compiler

func addDrillResources(t *Template, p *PolicyPlan) {}

func addDrillFiles(out map[string]any, p *PolicyPlan) error { return nil }

func drillText(p *PolicyPlan) string { return "" }
