package conformance

import (
	"strings"
	"testing"
)

func TestCheckPolicyRules(t *testing.T) {
	ok := decode(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"A","Effect":"Allow","Action":"ec2:CreateSnapshots","Resource":"*"},
	  {"Sid":"B","Effect":"Allow","Action":["ec2:Describe*","ssm:ListCommands"],"Resource":"*"}]}`)
	if ps := CheckPolicyRules(ok, IdentityPolicy); len(ps) != 0 {
		t.Fatalf("valid policy rejected: %v", ps)
	}
	trust := decode(t, `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ssm.amazonaws.com"},"Action":"sts:AssumeRole"}}`)
	if ps := CheckPolicyRules(trust, TrustPolicy); len(ps) != 0 {
		t.Fatalf("valid trust policy rejected: %v", ps)
	}
	cases := []struct{ name, doc, want string }{
		{"both Action and NotAction", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}]}`, "exactly one of Action and NotAction"},
		{"neither Action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, "exactly one of Action and NotAction"},
		{"no Resource", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`, "exactly one of Resource and NotResource"},
		{"duplicate Sid", `{"Statement":[{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}`, `Sid "A" is not unique`},
		{"bare star", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, `bare "*"`},
		{"no service prefix", `{"Statement":[{"Effect":"Allow","Action":"CreateSnapshots","Resource":"*"}]}`, "not of the form service:Action"},
		{"upper-case service", `{"Statement":[{"Effect":"Allow","Action":"EC2:CreateSnapshots","Resource":"*"}]}`, "not of the form service:Action"},
	}
	for _, c := range cases {
		ps := CheckPolicyRules(decode(t, c.doc), IdentityPolicy)
		var all []string
		for _, p := range ps {
			all = append(all, p.String())
		}
		if !strings.Contains(strings.Join(all, "\n"), c.want) {
			t.Errorf("%s: want %q, got %v", c.name, c.want, all)
		}
	}
	noPrincipal := decode(t, `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`)
	if ps := CheckPolicyRules(noPrincipal, TrustPolicy); len(ps) != 1 || !strings.Contains(ps[0].Message, "Principal") {
		t.Errorf("trust policy without principal: %v", ps)
	}
}
