package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
)

// RunDUISOutbox checks the DUIS outbox of migration 00004 on a backend:
// receivers, idempotent enqueueing keyed by the delivery, due messages
// after a backoff, and a message acknowledged once.
func RunDUISOutbox(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := t.Context()
	st, ok := open(t).(sqlstore.DUISOutbox)
	if !ok {
		t.Fatal("the backend has no DUIS outbox")
	}
	const user = "90-B3-D5-1F-30-01-00-00"
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	if err := st.PutDUISReceiver(ctx, user, "http://a.example/r"); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDUISReceiver(ctx, user, "http://b.example/r"); err != nil {
		t.Fatal(err)
	}
	if r, err := st.DUISReceivers(ctx); err != nil || r[user] != "http://b.example/r" || len(r) != 1 {
		t.Fatalf("receivers %v %v", r, err)
	}
	msg := func(src int64) sqlstore.DUISMessage {
		return sqlstore.DUISMessage{UserID: user, Source: src, RequestID: "r", Address: "http://b.example/r", Body: []byte("<x/>"), NextAt: t0}
	}
	if err := st.EnqueueDUIS(ctx, []sqlstore.DUISMessage{msg(3), msg(7)}); err != nil {
		t.Fatal(err)
	}
	if err := st.EnqueueDUIS(ctx, []sqlstore.DUISMessage{msg(7), msg(9)}); err != nil {
		t.Fatal(err)
	}
	if last, err := st.DUISLastSource(ctx, user); err != nil || last != 9 {
		t.Fatalf("last source %d %v", last, err)
	}
	all, err := st.DUISMessages(ctx, user)
	if err != nil || len(all) != 3 {
		t.Fatalf("a delivery enqueued twice: %d messages %v", len(all), err)
	}
	due, err := st.DUISDue(ctx, t0, 10)
	if err != nil || len(due) != 3 {
		t.Fatalf("due %d %v", len(due), err)
	}
	if err := st.MarkDUISFailed(ctx, due[0].ID, t0.Add(time.Second), "503"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDUISSent(ctx, due[1].ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkDUISSent(ctx, due[1].ID, t0); !errors.Is(err, sqlstore.ErrDUISSent) {
		t.Fatalf("acknowledged twice: %v", err)
	}
	if due, _ := st.DUISDue(ctx, t0, 10); len(due) != 1 || due[0].Source != 9 {
		t.Fatalf("due at t0: %+v", due)
	}
	if due, _ := st.DUISDue(ctx, t0.Add(time.Second), 10); len(due) != 2 || due[0].Attempts != 1 || due[0].LastError != "503" {
		t.Fatalf("due after the backoff: %+v", due)
	}
	// Two senders read a message due: one claims it, until the claim lapses.
	due, _ = st.DUISDue(ctx, t0.Add(time.Second), 10)
	m := due[0]
	if ok, err := st.ClaimDUIS(ctx, m.ID, m.NextAt, t0.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := st.ClaimDUIS(ctx, m.ID, m.NextAt, t0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("second claim: %v %v", ok, err)
	}
	if due, _ := st.DUISDue(ctx, t0.Add(time.Second), 10); len(due) != 1 || due[0].ID == m.ID {
		t.Fatalf("a claimed message is still due: %+v", due)
	}
	if due, _ := st.DUISDue(ctx, t0.Add(time.Hour), 10); len(due) != 2 {
		t.Fatalf("a lapsed claim is due again: %+v", due)
	}
	// A request's record keeps the version it was sent in; the first
	// record of an ID stays.
	sent := sqlstore.DUISRequestInfo{RequestID: "d1", SRV: "4.1.1", SchemaVersion: "5.2"}
	if err := st.PutDUISRequest(ctx, "g1", sent); err != nil {
		t.Fatal(err)
	}
	if err := st.PutDUISRequest(ctx, "g1", sqlstore.DUISRequestInfo{RequestID: "d1", SRV: "4.1.1", SchemaVersion: "5.4"}); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := st.DUISRequest(ctx, "g1"); err != nil || !ok || got != sent {
		t.Fatalf("request %+v %v %v, want %+v", got, ok, err, sent)
	}
	if _, ok, err := st.DUISRequest(ctx, "g2"); err != nil || ok {
		t.Fatalf("unknown request: %v %v", ok, err)
	}
}
