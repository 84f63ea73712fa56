package spec

import (
	"fmt"

	"cuelang.org/go/cue"
)

// Pos is where the value at path is written in the spec's files,
// "FILE:LINE:COLUMN", or "" where the spec does not say. A loaded spec
// keeps the positions of its CEL rules, for the errors of their
// compilation (package policy) to name: paths "services[I].fields[J].rule",
// "services[I].checks[J].rule" and "envelope_rules[I].rule", with the
// indexes of Services, Service.Fields, Service.Checks and EnvelopeRules.
func (s *Spec) Pos(path string) string { return s.pos[path] }

// FieldRulePath is the path of the rule of field j of service i, for Pos.
func FieldRulePath(i, j int) string { return fmt.Sprintf("services[%d].fields[%d].rule", i, j) }

// CheckPath is the path of the rule of check j of service i, for Pos.
func CheckPath(i, j int) string { return fmt.Sprintf("services[%d].checks[%d].rule", i, j) }

// EnvelopeRulePath is the path of the rule of envelope rule i, for Pos.
func EnvelopeRulePath(i int) string { return fmt.Sprintf("envelope_rules[%d].rule", i) }

// rulePositions records where v writes each CEL rule of s.
func (s *Spec) rulePositions(v cue.Value) {
	s.pos = map[string]string{}
	at := func(p string) {
		if pos := v.LookupPath(cue.ParsePath(p)).Pos(); pos.IsValid() {
			s.pos[p] = fmt.Sprintf("%s:%d:%d", pos.Filename(), pos.Line(), pos.Column())
		}
	}
	for i, svc := range s.Services {
		for j, f := range svc.Fields {
			if f.Rule != "" {
				at(FieldRulePath(i, j))
			}
		}
		for j := range svc.Checks {
			at(CheckPath(i, j))
		}
	}
	for i := range s.EnvelopeRules {
		at(EnvelopeRulePath(i))
	}
}
