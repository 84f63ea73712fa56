// Package metrics exposes a running gateway in the Prometheus format: the
// requests decided and completed by service, category, outcome and reason
// code; their response times against each service's Target Response Time
// from the spec, and the Code Performance Measures of para 262 as they
// stand; queue depths, held and future dated work and schedule lag read from
// the store at each scrape; store call latency and rows per write; alert
// fan-out lag; SMWAN faults; the calls served; reloads.
//
// A *Metrics is a gateway.Observer; its Handler serves /metrics.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Namespace prefixes every metric name.
const Namespace = "dccgate"

// Metrics holds the gateway's metrics in a registry of its own.
type Metrics struct {
	reg *prometheus.Registry

	decided      *prometheus.CounterVec
	completed    *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	ratio        *prometheus.HistogramVec
	withinTarget *prometheus.CounterVec
	alerts       *prometheus.CounterVec
	alertLag     prometheus.Histogram
	quarantined  *prometheus.CounterVec
	smwanFaults  *prometheus.CounterVec
	storeCalls   *prometheus.HistogramVec
	storeRows    prometheus.Histogram
	storeErrors  *prometheus.CounterVec
	rpcs         *prometheus.HistogramVec
	reloads      *prometheus.CounterVec
	loaded       *prometheus.GaugeVec

	mu   sync.Mutex
	spec *spec.Spec
	// byTarget counts, per measures label, responses within and past
	// their target.
	byTarget map[string][2]int64
}

var _ gateway.Observer = (*Metrics)(nil)

// responseBuckets are the response time buckets (seconds) before the
// spec's Target Response Times are added, so that the bucket at a target
// counts exactly the responses within it.
var responseBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 4 * 3600, 86400, 5 * 86400}

// New returns the metrics of a gateway running spec s, with the Go runtime
// and process collectors.
func New(s *spec.Spec) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), spec: s, byTarget: map[string][2]int64{}}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.decided = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_decided_total",
		Help: "Service Requests decided at submission, by service, category, outcome (accepted, rejected, quarantined) and reason code."},
		[]string{"service", "category", "outcome", "reason"})
	m.completed = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "requests_completed_total",
		Help: "Service Requests that reached a final state, by service, category, state and reason code."},
		[]string{"service", "category", "state", "reason"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "response_time_seconds",
		Help:    "Time from receipt (or from the execution time of future dated and scheduled work) to the Service Response; the buckets include every Target Response Time of the spec.",
		Buckets: targetBuckets(s)}, []string{"service", "category"})
	m.ratio = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "response_time_target_ratio",
		Help:    "Response time divided by the service's Target Response Time (1 is the target), for services that have one.",
		Buckets: []float64{.01, .1, .25, .5, .75, 1, 1.5, 2, 5, 10}}, []string{"category"})
	m.withinTarget = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "responses_by_target_total",
		Help: "Service Responses and Alerts with a Target Response Time, by what they measure (on_demand, future_dated, scheduled, alerts) and whether they met it."},
		[]string{"measures", "within_target"})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "alerts_delivered_total",
		Help: "Alerts put on users' streams, by alert code (one per receiving user)."}, []string{"code"})
	m.alertLag = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "alert_fanout_lag_seconds",
		Help: "Time from an alert being raised to its delivery on a user's stream.", Buckets: targetBuckets(s)})
	m.quarantined = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "alerts_quarantined_total",
		Help: "Device alerts anomaly detection quarantined (para 136), by alert code (one per alert)."}, []string{"code"})
	m.smwanFaults = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "smwan_faults_total",
		Help: "Commands that got no answer over the SMWAN, by kind (timeout, lost, hub_dead)."}, []string{"kind"})
	m.storeCalls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_call_seconds",
		Help:    "Store call latency by operation; for writes this includes waiting for the group commit.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"op"})
	m.storeRows = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_write_rows",
		Help: "Rows written per store write (a request with the deliveries committed with it).", Buckets: []float64{1, 2, 4, 8, 16, 64, 256, 1024}})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "store_errors_total",
		Help: "Store calls that failed, by operation (stale conditional updates and lookups of missing rows excluded)."}, []string{"op"})
	m.rpcs = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "rpc_seconds",
		Help:    "Calls served, by procedure and Connect code.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}}, []string{"procedure", "code"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "reloads_total",
		Help: "Reloads of the spec and policies, by result (ok, refused)."}, []string{"result"})
	m.loaded = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "loaded_info",
		Help: "The spec and policies deciding new requests (1 for the ones in force)."}, []string{"spec_hash", "policy_hash"})
	for _, c := range []prometheus.Collector{m.decided, m.completed, m.duration, m.ratio, m.withinTarget, m.alerts, m.alertLag,
		m.quarantined, m.smwanFaults, m.storeCalls, m.storeRows, m.storeErrors, m.rpcs, m.reloads, m.loaded,
		specCollector{m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// targetBuckets adds every Target Response Time of the spec to the base
// buckets.
func targetBuckets(s *spec.Spec) []float64 {
	b := slices.Clone(responseBuckets)
	add := func(d *spec.Duration) {
		if d != nil && *d > 0 {
			b = append(b, d.Std().Seconds())
		}
	}
	if s != nil {
		for _, svc := range s.Services {
			add(svc.OnDemand)
			add(svc.FutureDated)
			add(svc.Scheduled)
		}
		at := s.AlertTarget
		add(&at)
	}
	slices.Sort(b)
	return slices.Compact(b)
}

// Registry is the registry the metrics are in (register more there).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// SetSpec tells the metrics the spec now in force (after a reload).
func (m *Metrics) SetSpec(s *spec.Spec) {
	m.mu.Lock()
	m.spec = s
	m.mu.Unlock()
}

// Decided implements gateway.Observer.
func (m *Metrics) Decided(service, category, outcome, reason string) {
	m.decided.WithLabelValues(service, category, outcome, reason).Inc()
}

// Completed implements gateway.Observer.
func (m *Metrics) Completed(service, category, state, reason string, took, target time.Duration) {
	m.completed.WithLabelValues(service, category, state, reason).Inc()
	m.duration.WithLabelValues(service, category).Observe(took.Seconds())
	if target > 0 {
		m.ratio.WithLabelValues(category).Observe(took.Seconds() / target.Seconds())
		m.countTarget(category, took <= target)
	}
}

func (m *Metrics) countTarget(measures string, ok bool) {
	m.withinTarget.WithLabelValues(measures, strconv.FormatBool(ok)).Inc()
	m.mu.Lock()
	c := m.byTarget[measures]
	if ok {
		c[0]++
	} else {
		c[1]++
	}
	m.byTarget[measures] = c
	m.mu.Unlock()
}

// AlertDelivered implements gateway.Observer.
func (m *Metrics) AlertDelivered(code string, lag time.Duration) {
	m.alerts.WithLabelValues(code).Inc()
	m.alertLag.Observe(lag.Seconds())
	m.mu.Lock()
	s := m.spec
	m.mu.Unlock()
	if s != nil && s.AlertTarget > 0 {
		m.countTarget("alerts", lag <= s.AlertTarget.Std())
	}
}

// AlertQuarantined implements gateway.Observer.
func (m *Metrics) AlertQuarantined(code string) { m.quarantined.WithLabelValues(code).Inc() }

// SMWANFault implements gateway.Observer.
func (m *Metrics) SMWANFault(kind string) { m.smwanFaults.WithLabelValues(kind).Inc() }

// StoreCall records one store call (see telemetry.StoreObserver).
func (m *Metrics) StoreCall(op string, took time.Duration, rows int, err error) {
	m.storeCalls.WithLabelValues(op).Observe(took.Seconds())
	if rows > 0 && err == nil {
		m.storeRows.Observe(float64(rows))
	}
	if err != nil && !expected(err) {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// RPC records one call served (see telemetry.RPCObserver).
func (m *Metrics) RPC(procedure, code string, took time.Duration) {
	m.rpcs.WithLabelValues(procedure, code).Observe(took.Seconds())
}

// Reloaded records a reload: refused, or in force with these hashes.
func (m *Metrics) Reloaded(ok bool, specHash, policyHash string) {
	if !ok {
		m.reloads.WithLabelValues("refused").Inc()
		return
	}
	m.reloads.WithLabelValues("ok").Inc()
	m.Loaded(specHash, policyHash)
}

// Loaded records the spec and policies in force.
func (m *Metrics) Loaded(specHash, policyHash string) {
	m.loaded.Reset()
	m.loaded.WithLabelValues(specHash, policyHash).Set(1)
}

// specCollector exposes what the spec says: each service's Target Response
// Time per category, the Code Performance Measures' target and minimum
// service levels, and each measure's level so far in this process.
type specCollector struct{ m *Metrics }

var (
	targetDesc = prometheus.NewDesc(Namespace+"_service_target_response_seconds",
		"Target Response Time of a service in a category, from the spec.", []string{"service", "category"}, nil)
	measureTargetDesc = prometheus.NewDesc(Namespace+"_performance_measure_target_percent",
		"Target Service Level of a Code Performance Measure (para 262), from the spec.", []string{"number", "measures"}, nil)
	measureMinDesc = prometheus.NewDesc(Namespace+"_performance_measure_minimum_percent",
		"Minimum Service Level of a Code Performance Measure (para 262), from the spec.", []string{"number", "measures"}, nil)
	measureDesc = prometheus.NewDesc(Namespace+"_performance_measure_percent",
		"Share of responses (or alerts) within their Target Response Time since this process started, per Code Performance Measure; absent until there is one.", []string{"number", "measures"}, nil)
)

func (c specCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- targetDesc
	ch <- measureTargetDesc
	ch <- measureMinDesc
	ch <- measureDesc
}

func (c specCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	s := c.m.spec
	c.m.mu.Unlock()
	if s == nil {
		return
	}
	for _, svc := range s.Services {
		for cat, d := range map[string]*spec.Duration{"on_demand": svc.OnDemand, "future_dated": svc.FutureDated, "scheduled": svc.Scheduled} {
			if d != nil && *d > 0 {
				ch <- prometheus.MustNewConstMetric(targetDesc, prometheus.GaugeValue, d.Std().Seconds(), svc.Key(), cat)
			}
		}
	}
	for _, ms := range s.Measures {
		n := strconv.Itoa(ms.Number)
		ch <- prometheus.MustNewConstMetric(measureTargetDesc, prometheus.GaugeValue, ms.Target, n, ms.Measures)
		ch <- prometheus.MustNewConstMetric(measureMinDesc, prometheus.GaugeValue, ms.Minimum, n, ms.Measures)
		c.m.mu.Lock()
		got := c.m.byTarget[ms.Measures]
		c.m.mu.Unlock()
		if got[0]+got[1] > 0 {
			ch <- prometheus.MustNewConstMetric(measureDesc, prometheus.GaugeValue, 100*float64(got[0])/float64(got[0]+got[1]), n, ms.Measures)
		}
	}
}

// expected reports the errors a store returns in normal operation.
func expected(err error) bool {
	return errors.Is(err, store.ErrStale) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDuplicate) ||
		errors.Is(err, context.Canceled)
}
