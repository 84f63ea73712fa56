package gateway

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec/dcc"
)

// AlertAnomalyRule is an anomaly-detection threshold on the alerts of one
// device (para 136, footnote 14): at most Max alerts of Code ("" for any
// code) per window Per; the one past it is quarantined.
type AlertAnomalyRule struct {
	Code string
	Max  int
	Per  time.Duration
}

// alertCounts counts each device's alerts over the windows of the alert
// thresholds, in this process: every alert that would be sent on counts,
// the quarantined ones too, so a device that keeps sending too many stays
// quarantined until its rate falls. For each device and rule it keeps the
// times of the latest Max alerts at most, and drops a device's times once
// they are older than every window.
type alertCounts struct {
	mu    sync.Mutex
	rules []AlertAnomalyRule
	seen  map[alertKey][]time.Time // oldest first
	// swept is when times older than the longest window were last dropped.
	swept time.Time
}

type alertKey struct {
	device string
	rule   int
}

// set replaces the rules and forgets the counts.
func (c *alertCounts) set(rules []AlertAnomalyRule) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = rules
	c.seen = nil
}

// forget forgets the counts and keeps the rules (a new world).
func (c *alertCounts) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = nil
}

// count counts an alert of device with code at now and returns the first
// threshold it passes (ok false: none).
func (c *alertCounts) count(device, code string, now time.Time) (passed AlertAnomalyRule, n int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rules) == 0 {
		return AlertAnomalyRule{}, 0, false
	}
	if c.seen == nil {
		c.seen = map[alertKey][]time.Time{}
	}
	c.sweep(now)
	for i, r := range c.rules {
		if r.Code != "" && r.Code != code || r.Max < 1 || r.Per <= 0 {
			continue
		}
		k := alertKey{device, i}
		times := c.seen[k]
		from := 0
		for from < len(times) && !times[from].After(now.Add(-r.Per)) {
			from++
		}
		times = append(times[from:], now)
		if len(times) > r.Max {
			if !ok {
				passed, n, ok = r, len(times), true
			}
			times = times[len(times)-r.Max:]
		}
		c.seen[k] = times
	}
	return passed, n, ok
}

// sweep drops the times older than the longest window, once a window.
func (c *alertCounts) sweep(now time.Time) {
	var longest time.Duration
	for _, r := range c.rules {
		longest = max(longest, r.Per)
	}
	if now.Sub(c.swept) < longest {
		return
	}
	c.swept = now
	for k, times := range c.seen {
		if len(times) == 0 || !times[len(times)-1].After(now.Add(-longest)) {
			delete(c.seen, k)
		}
	}
}

// SetAlertAnomaly replaces the thresholds on devices' alerts (para 136)
// and forgets what was counted.
func (g *Gateway) SetAlertAnomaly(rules []AlertAnomalyRule) { g.alertCounts.set(rules) }

// alertAnomalous counts an alert about to be sent on and, past a
// threshold, quarantines it instead (para 136): it is kept in the store
// (store.AlertQuarantine) with the users it was for, and not sent. True
// when it was quarantined, or would have been and the store keeps no
// quarantine (logged either way).
func (g *Gateway) alertAnomalous(ctx context.Context, device, code string, raisedAt time.Time, recipients []string, payload []byte) bool {
	now := g.clk.Now()
	rule, n, ok := g.alertCounts.count(device, code, now)
	if !ok {
		return false
	}
	of := "alerts"
	if rule.Code != "" {
		of = rule.Code + " alerts"
	}
	detail := fmt.Sprintf("%d %s within %s, more than %d", n, of, rule.Per, rule.Max)
	g.observer().AlertQuarantined(code)
	reason := dcc.ReasonAlertAnomaly
	q, keeps := store.As[store.AlertQuarantine](g.st)
	if !keeps {
		g.log.Warn("alert quarantined (not kept: the store has no quarantine)", "device", device, "code", code, "reason", string(reason), "detail", detail)
		return true
	}
	id, err := q.QuarantineAlert(ctx, store.QuarantinedAlert{DeviceID: device, Code: code, Recipients: recipients, Payload: payload,
		Reason: string(reason), Clause: dcc.ReasonClauses[reason], Detail: detail, RaisedAt: raisedAt, QuarantinedAt: now})
	if err != nil {
		// Not sent on all the same: the threshold is passed.
		g.log.Error("keeping a quarantined alert", "device", device, "code", code, "err", err)
		return true
	}
	g.log.Warn("alert quarantined", "id", id, "device", device, "code", code, "recipients", strings.Join(recipients, ","), "reason", string(reason), "detail", detail)
	return true
}
