package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
)

// WorkSource is what the work collector reads: the store, the gateway's
// time and its in-memory queue.
type WorkSource struct {
	Store store.Store
	Now   func() time.Time
	Stats func() gateway.Stats
	// Timeout bounds the store queries of one scrape (default 5s).
	Timeout time.Duration
}

// WatchWork registers a collector that reads, at each scrape, the work the
// gateway holds: requests per open state (the durable queues: acknowledged,
// executing, held, pending future dated, awaiting a signature), the lag of
// the most overdue future dated request and schedule, the schedules, and
// the in-memory queue.
func (m *Metrics) WatchWork(src WorkSource) {
	if src.Timeout <= 0 {
		src.Timeout = 5 * time.Second
	}
	m.reg.MustRegister(workCollector{src})
}

var (
	inStateDesc = prometheus.NewDesc(Namespace+"_requests_open",
		"Requests in an open state, from the store (acknowledged: queued to run; executing; held: sequenced after another; pending: future dated; awaiting_signature: critical).",
		[]string{"state"}, nil)
	futureLagDesc = prometheus.NewDesc(Namespace+"_future_dated_lag_seconds",
		"How long the most overdue pending future dated request has been due (0: none is overdue).", nil, nil)
	scheduleLagDesc = prometheus.NewDesc(Namespace+"_schedule_lag_seconds",
		"How long the most overdue schedule's next run has been due (0: none is overdue).", nil, nil)
	schedulesDesc = prometheus.NewDesc(Namespace+"_schedules",
		"Schedules created with 5.1 Create Schedule, from the store.", nil, nil)
	schedulesDueDesc = prometheus.NewDesc(Namespace+"_schedules_due",
		"Schedules whose next run is due now.", nil, nil)
	inflightDesc = prometheus.NewDesc(Namespace+"_queue_inflight",
		"Requests queued or running in this process.", nil, nil)
	queuedDesc = prometheus.NewDesc(Namespace+"_queue_waiting",
		"Requests waiting for a worker in this process.", nil, nil)
	workersDesc = prometheus.NewDesc(Namespace+"_workers",
		"Request workers of this process.", nil, nil)
	admittingDesc = prometheus.NewDesc(Namespace+"_admission_admitted",
		"Submits admitted and not yet answered in this process (with the requests in flight, held under max_in_flight).", nil, nil)
	admitWaitDesc = prometheus.NewDesc(Namespace+"_admission_waiting",
		"Submits waiting for room under max_in_flight in this process.", nil, nil)
	busyDesc = prometheus.NewDesc(Namespace+"_admission_refused_total",
		"Submits refused GATEWAY_BUSY (not received: no room came within the admission wait) by this process.", nil, nil)
	commitsDesc = prometheus.NewDesc(Namespace+"_store_commits_total",
		"Group commits of the store's writer (one transaction each).", nil, nil)
	committedDesc = prometheus.NewDesc(Namespace+"_store_committed_writes_total",
		"Writes in those group commits: its rate over the commits' rate is the mean batch size.", nil, nil)
	commitTimeDesc = prometheus.NewDesc(Namespace+"_store_commit_seconds_total",
		"Time the store's writer spent running and committing batches: over the commits, the mean commit latency.", nil, nil)
	storeUpDesc = prometheus.NewDesc(Namespace+"_store_up",
		"1 if the store answered this scrape's queries.", nil, nil)
)

// openStates are the states whose requests are work to do.
var openStates = []string{gateway.StateAcknowledged, gateway.StateExecuting, gateway.StateHeld, gateway.StatePending, gateway.StateAwaitingSignature}

type workCollector struct{ src WorkSource }

func (c workCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{commitsDesc, committedDesc, commitTimeDesc, inStateDesc, futureLagDesc, scheduleLagDesc, schedulesDesc, schedulesDueDesc, inflightDesc, queuedDesc, workersDesc, admittingDesc, admitWaitDesc, busyDesc, storeUpDesc} {
		ch <- d
	}
}

func (c workCollector) Collect(ch chan<- prometheus.Metric) {
	if c.src.Stats != nil {
		st := c.src.Stats()
		ch <- prometheus.MustNewConstMetric(inflightDesc, prometheus.GaugeValue, float64(st.InFlight))
		ch <- prometheus.MustNewConstMetric(queuedDesc, prometheus.GaugeValue, float64(st.Queued))
		ch <- prometheus.MustNewConstMetric(workersDesc, prometheus.GaugeValue, float64(st.Workers))
		ch <- prometheus.MustNewConstMetric(admittingDesc, prometheus.GaugeValue, float64(st.Admitting))
		ch <- prometheus.MustNewConstMetric(admitWaitDesc, prometheus.GaugeValue, float64(st.Waiting))
		ch <- prometheus.MustNewConstMetric(busyDesc, prometheus.CounterValue, float64(st.Busy))
	}
	if c.src.Store == nil {
		return
	}
	if cs, ok := c.src.Store.(store.CommitStatser); ok {
		st := cs.CommitStats()
		ch <- prometheus.MustNewConstMetric(commitsDesc, prometheus.CounterValue, float64(st.Commits))
		ch <- prometheus.MustNewConstMetric(committedDesc, prometheus.CounterValue, float64(st.Writes))
		ch <- prometheus.MustNewConstMetric(commitTimeDesc, prometheus.CounterValue, st.CommitTime.Seconds())
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.src.Timeout)
	defer cancel()
	up := 1.0
	defer func() { ch <- prometheus.MustNewConstMetric(storeUpDesc, prometheus.GaugeValue, up) }()
	for _, state := range openStates {
		n, err := c.src.Store.CountRequests(ctx, store.CountFilter{States: []string{state}, ScheduleRuns: true})
		if err != nil {
			up = 0
			return
		}
		ch <- prometheus.MustNewConstMetric(inStateDesc, prometheus.GaugeValue, float64(n), state)
	}
	now := c.src.Now()
	lag := 0.0
	due, err := c.src.Store.ListRequests(ctx, store.RequestFilter{States: []string{gateway.StatePending}, DueBefore: now, Limit: 1})
	if err != nil {
		up = 0
		return
	}
	if len(due) > 0 && !due[0].ExecuteAt.IsZero() {
		lag = now.Sub(due[0].ExecuteAt).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(futureLagDesc, prometheus.GaugeValue, lag)
	all, err := c.src.Store.ListSchedules(ctx, store.ScheduleFilter{})
	if err != nil {
		up = 0
		return
	}
	lag, ndue := 0.0, 0
	for _, s := range all {
		if !s.Next.After(now) {
			ndue++
			if l := now.Sub(s.Next).Seconds(); l > lag {
				lag = l
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(schedulesDesc, prometheus.GaugeValue, float64(len(all)))
	ch <- prometheus.MustNewConstMetric(schedulesDueDesc, prometheus.GaugeValue, float64(ndue))
	ch <- prometheus.MustNewConstMetric(scheduleLagDesc, prometheus.GaugeValue, lag)
}
