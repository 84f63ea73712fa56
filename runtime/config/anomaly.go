package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AnomalyRule is one threshold of the anomaly key: at most Max requests of
// Service by a user of Role ("": any role) within any Per.
type AnomalyRule struct {
	Service string
	Role    string
	Max     int
	Per     time.Duration
}

// ParseAnomaly reads the anomaly key, SERVICE[@ROLE]=MAX/PER separated by
// commas. It checks the form only: whether the spec has the service and
// the role is for serve to check, which has the spec.
func ParseAnomaly(s string) ([]AnomalyRule, error) {
	return parseList(s, parseAnomalyRule)
}

// parseList reads items separated by commas, spaces around them and empty
// ones left out; an error names its item.
func parseList[T any](s string, parse func(item string) (T, error)) ([]T, error) {
	var out []T
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		v, err := parse(item)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseAnomalyRule(item string) (AnomalyRule, error) {
	const form = "want SERVICE[@ROLE]=MAX/PER, e.g. 4.1@EIS=1000/1h"
	who, limit, ok := strings.Cut(item, "=")
	if !ok {
		return AnomalyRule{}, fmt.Errorf("no '=': %s", form)
	}
	var r AnomalyRule
	r.Service, r.Role, _ = strings.Cut(strings.TrimSpace(who), "@")
	r.Service, r.Role = strings.TrimSpace(r.Service), strings.TrimSpace(r.Role)
	if r.Service == "" {
		return r, fmt.Errorf("no service: %s", form)
	}
	if strings.Contains(who, "@") && r.Role == "" {
		return r, fmt.Errorf("no role after '@': %s", form)
	}
	var err error
	// 0 is a threshold too: every such request is quarantined.
	if r.Max, r.Per, err = parseLimit(limit, form, 0); err != nil {
		return r, err
	}
	return r, nil
}

// parseLimit reads MAX/PER, refusing a MAX below least.
func parseLimit(limit, form string, least int) (int, time.Duration, error) {
	maxS, perS, ok := strings.Cut(limit, "/")
	if !ok {
		return 0, 0, fmt.Errorf("no '/' between the most and the window: %s", form)
	}
	n, err := strconv.Atoi(strings.TrimSpace(maxS))
	if err != nil || n < least {
		return 0, 0, fmt.Errorf("the most must be a whole number of at least %d, not %q", least, strings.TrimSpace(maxS))
	}
	per, err := time.ParseDuration(strings.TrimSpace(perS))
	if err != nil || per <= 0 {
		return 0, 0, fmt.Errorf("the window must be a duration above 0 such as 1h or 24h, not %q", strings.TrimSpace(perS))
	}
	return n, per, nil
}

// AlertAnomalyRule is one threshold of the alert_anomaly key: at most Max
// alerts of Code ("" for any) from one device within any Per.
type AlertAnomalyRule struct {
	Code string
	Max  int
	Per  time.Duration
}

// ParseAlertAnomaly reads the alert_anomaly key, CODE=MAX/PER separated
// by commas, CODE an alert code or * for every alert. It checks the form
// only: whether the spec has the code is for serve to check.
func ParseAlertAnomaly(s string) ([]AlertAnomalyRule, error) {
	return parseList(s, parseAlertAnomalyRule)
}

func parseAlertAnomalyRule(item string) (AlertAnomalyRule, error) {
	const form = "want CODE=MAX/PER, e.g. *=100/1h or A23=20/1h"
	code, limit, ok := strings.Cut(item, "=")
	code = strings.TrimSpace(code)
	if !ok || code == "" {
		return AlertAnomalyRule{}, fmt.Errorf("no code before '=': %s", form)
	}
	// An alert is not refused but kept from its users: 0 would keep them
	// all, which is not detecting anomalies.
	n, per, err := parseLimit(limit, form, 1)
	if err != nil {
		return AlertAnomalyRule{}, err
	}
	if code == "*" {
		code = ""
	}
	return AlertAnomalyRule{Code: code, Max: n, Per: per}, nil
}
