package ssi

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dccgate/dccgate/runtime/gateway"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
)

// counterOf is the counter of a request ID (originatorID:targetID:counter),
// if its last part is one.
func counterOf(id string) (uint64, bool) {
	i := strings.LastIndexByte(id, ':')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(id[i+1:], 10, 64)
	return n, err == nil
}

// newerFirst orders a user's requests as its history lists them: the
// latest received first and, of those received at one time, the higher
// counter first, compared as numbers (":16" before ":9"); IDs whose
// counters do not read as numbers, or are equal, by their text.
func newerFirst(a, b store.Request) int {
	if c := b.ReceivedAt.Compare(a.ReceivedAt); c != 0 {
		return c
	}
	ca, oka := counterOf(a.ID)
	cb, okb := counterOf(b.ID)
	if oka && okb && ca != cb {
		return cmp.Compare(cb, ca)
	}
	return strings.Compare(b.ID, a.ID)
}

// pageOfHistory returns the requests of a user received in [from, before) at
// positions [offset, offset+limit) of its history in newerFirst order.
//
// The store pages by receipt and then by ID as text, which puts ":9"
// before ":16" among requests received at one time (a virtual clock that
// has not moved, a burst within a clock tick). Only requests received at
// one time are ordered differently, so the store's page holds the right
// requests except at its first and last times, whose requests may run
// onto the pages beside it: those two times are read whole, ordered, and
// the page cut from them by the count of requests received later.
func (s *SSI) pageOfHistory(ctx context.Context, user string, from, before time.Time, offset, limit int) ([]store.Request, error) {
	page, err := s.cfg.Store.ListRequests(ctx, store.RequestFilter{UserID: user, ReceivedFrom: from, ReceivedBefore: before,
		Newest: true, Offset: offset, Limit: limit})
	if err != nil || len(page) == 0 {
		return page, err
	}
	first, last := page[0].ReceivedAt, page[len(page)-1].ReceivedAt
	// The requests received later than the page's first time, all on
	// earlier pages.
	later, err := s.cfg.Store.CountRequests(ctx, store.CountFilter{UserID: user, Since: first, Until: before.Add(-time.Nanosecond), ScheduleRuns: true})
	if err != nil {
		return nil, err
	}
	at := func(t time.Time) ([]store.Request, error) {
		return s.cfg.Store.ListRequests(ctx, store.RequestFilter{UserID: user, ReceivedFrom: t, ReceivedBefore: t.Add(time.Nanosecond)})
	}
	run, err := at(first)
	if err != nil {
		return nil, err
	}
	if !last.Equal(first) {
		for _, r := range page {
			if r.ReceivedAt.Before(first) && r.ReceivedAt.After(last) {
				run = append(run, r)
			}
		}
		tail, err := at(last)
		if err != nil {
			return nil, err
		}
		run = append(run, tail...)
	}
	// run holds positions [later, later+len(run)) of the history, which
	// take in the page's.
	slices.SortFunc(run, newerFirst)
	lo := min(max(offset-later, 0), len(run))
	return run[lo:min(lo+len(page), len(run))], nil
}

// took is the time a completed request took, from when its response time
// is measured (gateway.MeasuredFrom); "" while it is not completed.
func took(sp *spec.Spec, r store.Request) string {
	if r.CompletedAt.IsZero() {
		return ""
	}
	from := gateway.MeasuredFrom(sp, r)
	if from.IsZero() {
		return ""
	}
	return spec.Duration(r.CompletedAt.Sub(from).Round(time.Millisecond)).Format()
}
