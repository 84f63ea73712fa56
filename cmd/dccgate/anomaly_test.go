package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/spec"
)

func TestAnomalyRulesFromTheKey(t *testing.T) {
	got := anomalyRules("4.1@EIS=1000/1h,6.15=10/24h")
	want := []gateway.AnomalyRule{{Service: "4.1", Role: "EIS", Max: 1000, Per: time.Hour}, {Service: "6.15", Max: 10, Per: 24 * time.Hour}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("anomalyRules = %+v, want %+v", got, want)
	}
}

func TestCheckAnomaly(t *testing.T) {
	sp := spec.MustDefault()
	for _, tc := range []struct {
		key  string
		errs []string
	}{
		{key: "4.1@EIS=1/1h,1.1=5/1h,6.15=10/24h"}, // a reference, another, and each role
		{key: "9.9=1/1h", errs: []string{`"9.9" is no service`}},
		{key: "4.1@XX=1/1h", errs: []string{`"XX" is no role`, "EIS"}},
		{key: "9.9@XX=1/1h", errs: []string{`"9.9" is no service`, `"XX" is no role`}},
	} {
		err := checkAnomaly(sp, anomalyRules(tc.key), nil)
		if len(tc.errs) == 0 {
			if err != nil {
				t.Errorf("%s: %v", tc.key, err)
			}
			continue
		}
		for _, w := range tc.errs {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v, want one saying %s", tc.key, err, w)
			}
		}
	}
}

func TestCheckAlertAnomaly(t *testing.T) {
	sp := spec.MustDefault()
	if err := checkAnomaly(sp, nil, alertAnomalyRules("*=100/1h,A23=20/1h,A1=1/1m")); err != nil {
		t.Fatal(err)
	}
	err := checkAnomaly(sp, nil, alertAnomalyRules("*=100/1h,A99=1/1h"))
	if err == nil || !strings.Contains(err.Error(), `"A99" is no alert code`) {
		t.Fatalf("A99: %v", err)
	}
	if got := alertAnomalyRules("*=100/1h"); len(got) != 1 || got[0].Code != "" || got[0].Max != 100 {
		t.Fatalf("* read as %+v", got)
	}
}
