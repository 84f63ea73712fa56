package registration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/store"
)

// Sweep raises the incidents of files not received (para 87, 90-91): each
// refresh request not provided by its due time is flagged overdue, once,
// with a not_received incident; and each RDP serving a network operator
// that has sent no file for longer than the spec's file_expected_every gets
// a not_received incident, once per silence. It returns the incidents it
// raised. Call it periodically (Run does).
func (s *Service) Sweep(ctx context.Context) ([]store.RegistrationIncident, error) {
	now := s.clk.Now()
	var raised []store.RegistrationIncident
	raise := func(in store.RegistrationIncident) error {
		err := s.rep.PutRegistrationIncident(ctx, in)
		if errors.Is(err, store.ErrDuplicate) {
			return nil // raised before
		}
		if err == nil {
			raised = append(raised, in)
		}
		return err
	}
	open, err := s.rep.RefreshRequests(ctx, "", true)
	if err != nil {
		return nil, err
	}
	var nomsNow map[string]string // read once, if a refresh is overdue
	for _, r := range open {
		if !r.OverdueAt.IsZero() || !now.After(r.DueAt) {
			continue
		}
		if nomsNow == nil {
			if nomsNow, err = s.nominations(ctx, now); err != nil {
				return raised, err
			}
		}
		missing, err := s.refreshMissing(ctx, r, nomsNow)
		if err != nil {
			return raised, err
		}
		if err := s.rep.MarkRefreshOverdue(ctx, r.ID, now); err != nil {
			if errors.Is(err, store.ErrStale) {
				continue // received or flagged meanwhile
			}
			return raised, err
		}
		in := store.RegistrationIncident{ID: s.id("I", now), Kind: IncidentNotReceived, RDP: r.RDP, Key: "refresh/" + r.ID, RaisedAt: now,
			Summary: fmt.Sprintf("data refresh %s asked of %s at %s was due by %s and has not been received: %s (%s)",
				r.ID, r.RDP, r.RequestedAt.Format(time.RFC3339), r.DueAt.Format(time.RFC3339), missing, s.rd.RefreshClause)}
		if err := raise(in); err != nil {
			return raised, err
		}
	}
	if s.rd.FileExpectedEvery == nil {
		return raised, nil
	}
	every := s.rd.FileExpectedEvery.Std()
	noms, err := s.rep.Nominations(ctx)
	if err != nil {
		return raised, err
	}
	// Since when each RDP has been expected to send: its first nomination
	// in force now.
	inForce := map[string]store.Nomination{}
	for _, n := range noms {
		if !n.At.After(now) {
			inForce[n.NetworkOperator] = n
		}
	}
	since := map[string]time.Time{}
	for _, n := range inForce {
		if t, ok := since[n.RDP]; !ok || n.At.Before(t) {
			since[n.RDP] = n.At
		}
	}
	for rdp, from := range since {
		files, err := s.rep.RegistrationFiles(ctx, rdp, 1)
		if err != nil {
			return raised, err
		}
		last := from
		if len(files) > 0 && files[0].ReceivedAt.After(last) {
			last = files[0].ReceivedAt
		}
		if now.Sub(last) <= every {
			continue
		}
		in := store.RegistrationIncident{ID: s.id("I", now), Kind: IncidentNotReceived, RDP: rdp,
			Key: fmt.Sprintf("cadence/%s/%d", rdp, last.UnixNano()), RaisedAt: now,
			Summary: fmt.Sprintf("no file received from %s since %s: one is expected every %s", rdp, last.Format(time.RFC3339), s.rd.FileExpectedEvery.Format())}
		if err := raise(in); err != nil {
			return raised, err
		}
	}
	return raised, nil
}

// refreshMissing says what an overdue refresh lacks: for each fuel whose
// full file answers it (refreshFuels), whether one has been received since
// it was asked for, so that the incident of a refresh of everything the RDP
// provides names the fuel whose file is missing.
func (s *Service) refreshMissing(ctx context.Context, r store.RefreshRequest, noms map[string]string) (string, error) {
	need, err := s.refreshFuels(ctx, r, noms)
	if err != nil {
		return "", err
	}
	sort.Strings(need)
	var what string
	switch {
	case r.NetworkOperator != "":
		what = fmt.Sprintf("a refresh of network operator %s's data", r.NetworkOperator)
	case r.Fuel != "":
		what = "a refresh of its " + r.Fuel + " data"
	default:
		what = "a refresh of everything it provides"
		if len(need) > 0 {
			what += " (" + strings.Join(need, " and ") + ")"
		}
	}
	if len(need) == 0 {
		return what + "; no network operator nominates it now, so no file can provide it", nil
	}
	files, err := s.rep.RegistrationFiles(ctx, r.RDP, 0)
	if err != nil {
		return "", err
	}
	var lacking, got []string
	for _, f := range need {
		i := slices.IndexFunc(files, func(x store.RegistrationFile) bool { // newest first
			return x.Fuel == f && x.Kind == KindFull && x.State == StateApplied && !x.ReceivedAt.Before(r.RequestedAt)
		})
		if i < 0 {
			lacking = append(lacking, f)
			continue
		}
		got = append(got, fmt.Sprintf("the full %s file %s was received at %s", f, files[i].ID, files[i].ReceivedAt.Format(time.RFC3339)))
	}
	out := what + ", and no full " + strings.Join(lacking, " or ") + " file has been received since it was asked for"
	if len(lacking) == 0 { // cannot be while it is open; said plainly all the same
		out = what + ", not yet recorded as provided"
	}
	if len(got) > 0 {
		out += " (" + strings.Join(got, "; ") + ")"
	}
	return out, nil
}

// Run sweeps every interval on the clock until ctx ends, logging nothing:
// onErr (if set) gets each error.
func (s *Service) Run(ctx context.Context, clk clock.Clock, every time.Duration, onErr func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-clk.After(every):
		}
		if _, err := s.Sweep(ctx); err != nil && onErr != nil {
			onErr(err)
		}
	}
}
