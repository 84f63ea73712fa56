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
	var rules []AnomalyRule
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		r, err := parseAnomalyRule(item)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
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
	maxS, perS, ok := strings.Cut(limit, "/")
	if !ok {
		return r, fmt.Errorf("no '/' between the most requests and the window: %s", form)
	}
	n, err := strconv.Atoi(strings.TrimSpace(maxS))
	if err != nil || n < 1 {
		// 0 would quarantine every such request: not a threshold.
		return r, fmt.Errorf("the most requests must be a whole number of at least 1, not %q", strings.TrimSpace(maxS))
	}
	per, err := time.ParseDuration(strings.TrimSpace(perS))
	if err != nil || per <= 0 {
		return r, fmt.Errorf("the window must be a duration above 0 such as 1h or 24h, not %q", strings.TrimSpace(perS))
	}
	r.Max, r.Per = n, per
	return r, nil
}
