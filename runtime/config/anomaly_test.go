package config

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseAnomaly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []AnomalyRule
		err  string
	}{
		{in: "", want: nil},
		{in: " , ", want: nil},
		{in: "4.1@EIS=1000/1h", want: []AnomalyRule{{Service: "4.1", Role: "EIS", Max: 1000, Per: time.Hour}}},
		{in: "4.1@EIS=1000/1h, 6.15=10/24h", want: []AnomalyRule{
			{Service: "4.1", Role: "EIS", Max: 1000, Per: time.Hour},
			{Service: "6.15", Max: 10, Per: 24 * time.Hour}}},
		{in: " 1.1.1 @ GIS = 5 / 90m ", want: []AnomalyRule{{Service: "1.1.1", Role: "GIS", Max: 5, Per: 90 * time.Minute}}},
		{in: "4.1", err: "no '='"},
		{in: "=5/1h", err: "no service"},
		{in: "4.1@=5/1h", err: "no role"},
		{in: "4.1=5", err: "no '/'"},
		{in: "4.1=0/1h", want: []AnomalyRule{{Service: "4.1", Max: 0, Per: time.Hour}}},
		{in: "4.1=-3/1h", err: "at least 0"},
		{in: "4.1=many/1h", err: "whole number"},
		{in: "4.1=5/hour", err: "duration"},
		{in: "4.1=5/0s", err: "above 0"},
		{in: "4.1=5/1h,6.15=5", err: `"6.15=5"`},
	} {
		got, err := ParseAnomaly(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAnomaly(%q) error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAnomaly(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestAnomalyKeyIsValidated: a malformed threshold fails Load, named by
// its key and where it came from; a good one is read from the file.
func TestAnomalyKeyIsValidated(t *testing.T) {
	_, err := load(t, "", nil, "--anomaly", "4.1=-1/1h")
	if err == nil || !strings.Contains(err.Error(), "anomaly (from --anomaly)") {
		t.Fatalf("Load with --anomaly 4.1=-1/1h: %v, want an error naming the key and the flag", err)
	}
	l, err := load(t, "anomaly: 4.1@EIS=2/1h\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := ParseAnomaly(l.Config.Anomaly); len(got) != 1 || got[0].Max != 2 {
		t.Fatalf("anomaly from the file: %+v", got)
	}
}

func TestParseAlertAnomaly(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []AlertAnomalyRule
		err  string
	}{
		{in: "", want: nil},
		{in: "*=100/1h", want: []AlertAnomalyRule{{Max: 100, Per: time.Hour}}},
		{in: " *=100/1h , A23 = 20 / 10m", want: []AlertAnomalyRule{{Max: 100, Per: time.Hour}, {Code: "A23", Max: 20, Per: 10 * time.Minute}}},
		{in: "=5/1h", err: "no code"},
		{in: "A23", err: "no code"},
		{in: "A23=5", err: "no '/'"},
		{in: "A23=0/1h", err: "at least 1"},
		{in: "A23=5/soon", err: "duration"},
	} {
		got, err := ParseAlertAnomaly(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseAlertAnomaly(%q) error %v, want one saying %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAlertAnomaly(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}
