// Package maintenance is DCC Service Management (para 206-216): planned
// maintenance windows published a month in advance, with a recorded Panel
// approval where a month's disruption exceeds the spec's limit or a window
// falls in protected hours, and releases with their notice periods and
// change-freezes. Every number comes from spec service_management; the
// time from the injected clock.
//
// A Planner is the gateway's MaintenanceGate: during a published window
// the gateway refuses requests with the spec's maintenance reason code and
// the window's reference.
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// Error is a refusal with a stable code and the clause behind it.
type Error = spec.Refusal

// Refusal codes.
const (
	CodeLatePublication  = "LATE_PUBLICATION"
	CodePanelApproval    = "PANEL_APPROVAL_REQUIRED"
	CodeInvalidWindow    = "INVALID_WINDOW"
	CodeNoticePeriod     = "NOTICE_PERIOD"
	CodeChangeFreeze     = "CHANGE_FREEZE"
	CodeUnknownRelease   = "UNKNOWN_RELEASE_KIND"
	CodeWindowNotPresent = "NOT_FOUND"
	// CodeTimeOutOfRange: a window or release dated outside the times the
	// store keeps (store.MinTime to store.MaxTime, the years 1678 to 2262).
	CodeTimeOutOfRange = "TIME_OUT_OF_RANGE"
)

// keepable refuses, with CodeTimeOutOfRange, a time the store cannot keep:
// what names the time ("the window's end"), clause the rule it is under.
// A zero time (none given) is left to the caller's other checks.
func keepable(what string, t time.Time, clause string) error {
	if !t.IsZero() && (t.Before(store.MinTime) || t.After(store.MaxTime)) {
		return &Error{Code: CodeTimeOutOfRange, Clause: clause, Message: fmt.Sprintf("%s, %s, is not a time the gateway keeps: give one from %s to %s",
			what, t.UTC().Format(time.RFC3339), store.MinTime.UTC().Format(time.RFC3339), store.MaxTime.UTC().Format(time.RFC3339))}
	}
	return nil
}

// Planner publishes maintenance windows and releases and answers the
// gateway's InWindow from the windows it holds in memory (refreshed from
// the store by Refresh), so the request path does no I/O.
type Planner struct {
	st  store.ServiceManagement
	sp  *spec.Spec
	clk clock.Clock
	loc *time.Location

	mu      sync.RWMutex
	windows []store.MaintenanceWindow
}

// New returns a planner over the store and loads the windows.
func New(ctx context.Context, st store.ServiceManagement, sp *spec.Spec, clk clock.Clock) (*Planner, error) {
	loc, err := time.LoadLocation(sp.ServiceManagement.Maintenance.ProtectedHours.TimeZone)
	if err != nil {
		return nil, err
	}
	p := &Planner{st: st, sp: sp, clk: clk, loc: loc}
	return p, p.Refresh(ctx)
}

// Refresh reloads the windows that have not ended (another process may
// have published some).
func (p *Planner) Refresh(ctx context.Context) error {
	ws, err := p.st.MaintenanceWindows(ctx, p.clk.Now().AddDate(0, -1, 0), time.Time{})
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.windows = ws
	p.mu.Unlock()
	return nil
}

// InWindow implements gateway.MaintenanceGate: the published window, not
// cancelled, with StartsAt <= at < EndsAt.
func (p *Planner) InWindow(at time.Time) (ref, detail string, ok bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	for _, w := range p.windows {
		if !w.Cancelled && !at.Before(w.StartsAt) && at.Before(w.EndsAt) {
			return w.ID, fmt.Sprintf("%s, %s to %s", w.Description, w.StartsAt.Format(time.RFC3339), w.EndsAt.Format(time.RFC3339)), true
		}
	}
	return "", "", false
}

// Month returns the start and end of the calendar month of t in Great
// Britain (the spec's protected_hours.time_zone), the month that para 213's
// schedule is published for and its four-hour limit counts over. A UTC month
// would put 00:30 on 1 July (BST) in June, letting July's schedule be
// published an hour late, and count a window late on 31 July in August.
func (p *Planner) Month(t time.Time) (start, end time.Time) {
	t = t.In(p.loc)
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, p.loc)
	return start, start.AddDate(0, 1, 0)
}

// Check says what publishing w needs: an error if it may not be published
// at all, and whether it needs a recorded Panel approval, and why.
func (p *Planner) Check(ctx context.Context, w store.MaintenanceWindow) (needsPanel []string, err error) {
	m := p.sp.ServiceManagement.Maintenance
	now := p.clk.Now()
	if w.ID == "" || w.StartsAt.IsZero() || !w.EndsAt.After(w.StartsAt) {
		return nil, &Error{Code: CodeInvalidWindow, Clause: m.Clause, Message: "a window needs a reference and an end after its start"}
	}
	if err := keepable("the window's start", w.StartsAt, m.Clause); err != nil {
		return nil, err
	}
	if err := keepable("the window's end", w.EndsAt, m.Clause); err != nil {
		return nil, err
	}
	first, _ := p.Month(w.StartsAt)
	if m.PublishBeforeMonth && !now.Before(first) {
		return nil, &Error{Code: CodeLatePublication, Clause: m.Clause, Message: fmt.Sprintf("the schedule of maintenance for %s must be published before the month begins", first.Format("2006-01"))}
	}
	// Disruption in each month the window touches, with the windows
	// already published.
	for mStart := first; mStart.Before(w.EndsAt); mStart = mStart.AddDate(0, 1, 0) {
		mEnd := mStart.AddDate(0, 1, 0)
		others, err := p.st.MaintenanceWindows(ctx, mStart, mEnd)
		if err != nil {
			return nil, err
		}
		spans := []store.MaintenanceWindow{w}
		for _, o := range others {
			if o.ID != w.ID && !o.Cancelled {
				spans = append(spans, o)
			}
		}
		total := covered(spans, mStart, mEnd)
		if total > m.MaxDisruptionPerMonth.Std() {
			needsPanel = append(needsPanel, fmt.Sprintf("%s of maintenance in %s, above %s", fmtDur(total), mStart.Format("2006-01"), m.MaxDisruptionPerMonth.Format()))
		}
	}
	if at, ok := p.inProtectedHours(w.StartsAt, w.EndsAt); ok {
		needsPanel = append(needsPanel, fmt.Sprintf("maintenance in protected hours (%s to %s %s) at %s", m.ProtectedHours.From, m.ProtectedHours.To, m.ProtectedHours.TimeZone, at.In(p.loc).Format("2006-01-02 15:04")))
	}
	return needsPanel, nil
}

// Publish publishes a window: refused if too late, or if it needs a Panel
// approval and w.PanelApproval does not record one.
func (p *Planner) Publish(ctx context.Context, w store.MaintenanceWindow) (store.MaintenanceWindow, error) {
	needs, err := p.Check(ctx, w)
	if err != nil {
		return w, err
	}
	now := p.clk.Now()
	if len(needs) > 0 {
		if w.PanelApproval == "" {
			return w, &Error{Code: CodePanelApproval, Clause: p.sp.ServiceManagement.Maintenance.Clause,
				Message: "the window needs a recorded Panel approval (panel_approval): " + strings.Join(needs, "; ")}
		}
		w.PanelApprovedAt = now
	} else {
		w.PanelApproval, w.PanelApprovedAt = "", time.Time{}
	}
	w.PublishedAt = now
	if err := p.st.PutMaintenance(ctx, w); err != nil {
		return w, err
	}
	return w, p.Refresh(ctx)
}

// Cancel cancels a published window.
func (p *Planner) Cancel(ctx context.Context, id string) error {
	ws, err := p.st.MaintenanceWindows(ctx, time.Time{}, time.Time{})
	if err != nil {
		return err
	}
	for _, w := range ws {
		if w.ID == id {
			w.Cancelled = true
			if err := p.st.PutMaintenance(ctx, w); err != nil {
				return err
			}
			return p.Refresh(ctx)
		}
	}
	return &Error{Code: CodeWindowNotPresent, Clause: p.sp.ServiceManagement.Maintenance.Clause, Message: "no window " + id}
}

// Schedule lists the windows overlapping [from, to).
func (p *Planner) Schedule(ctx context.Context, from, to time.Time) ([]store.MaintenanceWindow, error) {
	return p.st.MaintenanceWindows(ctx, from, to)
}

// Disruption is the time under maintenance in [from, to), reported beside
// the Code Performance Measures (spec maintenance.measures): the time some
// window covers, so overlapping windows count once.
func (p *Planner) Disruption(ctx context.Context, from, to time.Time) (time.Duration, error) {
	ws, err := p.st.MaintenanceWindows(ctx, from, to)
	if err != nil {
		return 0, err
	}
	live := ws[:0]
	for _, w := range ws {
		if !w.Cancelled {
			live = append(live, w)
		}
	}
	return covered(live, from, to), nil
}

// inProtectedHours returns the first instant of [from, to) in protected
// hours, if any. Hours are walked by the minute boundaries of each day.
func (p *Planner) inProtectedHours(from, to time.Time) (time.Time, bool) {
	ph := p.sp.ServiceManagement.Maintenance.ProtectedHours
	fh, _ := time.Parse("15:04", ph.From)
	th, _ := time.Parse("15:04", ph.To)
	f, t := from.In(p.loc), to.In(p.loc)
	for day := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, p.loc); day.Before(t); day = day.AddDate(0, 0, 1) {
		if ph.WorkingDaysOnly && !p.sp.ServiceManagement.WorkingDays.IsWorkingDay(day) {
			continue
		}
		ps := day.Add(time.Duration(fh.Hour())*time.Hour + time.Duration(fh.Minute())*time.Minute)
		pe := day.Add(time.Duration(th.Hour())*time.Hour + time.Duration(th.Minute())*time.Minute)
		if overlap(f, t, ps, pe) > 0 {
			return later(f, ps), true
		}
	}
	return time.Time{}, false
}

// Announce records a release if its notice period is met and it is not
// implemented in a change-freeze its kind may not enter.
func (p *Planner) Announce(ctx context.Context, r store.Release) (store.Release, error) {
	rel := p.sp.ServiceManagement.Releases
	kind, ok := rel.Kinds[r.Kind]
	if !ok {
		kinds := make([]string, 0, len(rel.Kinds))
		for k := range rel.Kinds {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		return r, &Error{Code: CodeUnknownRelease, Clause: rel.Clause, Message: fmt.Sprintf("release kind %q: allowed are %s", r.Kind, strings.Join(kinds, ", "))}
	}
	if err := keepable("the release's implementation time", r.ImplementAt, rel.Clause); err != nil {
		return r, err
	}
	now := p.clk.Now()
	r.AnnouncedAt = now
	if r.ImplementAt.Sub(now) < kind.Notice.Std() {
		return r, &Error{Code: CodeNoticePeriod, Clause: rel.Clause, Message: fmt.Sprintf("a %s release needs %s of notice; %s is given", r.Kind, kind.Notice.Format(), fmtDur(r.ImplementAt.Sub(now)))}
	}
	if f, in := rel.InFreeze(r.ImplementAt); in && !kind.DuringFreeze {
		return r, &Error{Code: CodeChangeFreeze, Clause: rel.Clause, Message: fmt.Sprintf("%s falls in the %s change-freeze (%s to %s)", r.ImplementAt.Format(time.DateOnly), f.Name, f.From, f.To)}
	}
	return r, p.st.PutRelease(ctx, r)
}

// Releases lists the releases announced.
func (p *Planner) Releases(ctx context.Context) ([]store.Release, error) { return p.st.Releases(ctx) }

// covered is the time in [from, to) under at least one of ws (cancelled
// ones are the caller's to leave out). Para 213 limits the service
// disruption in a month, and overlapping windows disrupt the service once:
// summing their lengths counted two identical 2h windows as 4h.
func covered(ws []store.MaintenanceWindow, from, to time.Time) time.Duration {
	type span struct{ s, e time.Time }
	spans := make([]span, 0, len(ws))
	for _, w := range ws {
		if d := overlap(w.StartsAt, w.EndsAt, from, to); d > 0 {
			s := later(w.StartsAt, from)
			spans = append(spans, span{s, s.Add(d)})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.s.Compare(b.s) })
	var total time.Duration
	var cur span
	for i, sp := range spans {
		switch {
		case i == 0:
			cur = sp
		case !sp.s.After(cur.e): // overlaps or touches the run so far
			cur.e = later(cur.e, sp.e)
		default:
			total += cur.e.Sub(cur.s)
			cur = sp
		}
	}
	if len(spans) > 0 {
		total += cur.e.Sub(cur.s)
	}
	return total
}

func overlap(a0, a1, b0, b1 time.Time) time.Duration {
	s, e := later(a0, b0), a1
	if b1.Before(e) {
		e = b1
	}
	if !e.After(s) {
		return 0
	}
	return e.Sub(s)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func fmtDur(d time.Duration) string { return spec.Duration(d).Format() }

// IsRefusal reports whether err is a refusal of this package.
func IsRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
