package duisapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dccgate/dccgate/duis"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlstore"
	"github.com/dccgate/dccgate/spec"
)

// OutboxStore is the durable state of the outbox (migration 00004,
// runtime/store/sqlstore/duis_outbox.go).
type OutboxStore = sqlstore.DUISOutbox

// OutboxStoreOf returns the outbox store behind a gateway store (through
// wrappers that Unwrap), if its backend has one.
func OutboxStoreOf(st store.Store) (OutboxStore, bool) {
	for {
		if o, ok := st.(OutboxStore); ok {
			return o, true
		}
		u, ok := st.(interface{ Unwrap() store.Store })
		if !ok {
			return nil, false
		}
		st = u.Unwrap()
	}
}

// Outbox POSTs the results that follow, and Device and DCC Alerts, signed,
// to each user's Receive Response address. Collect turns new deliveries of
// the user's stream into signed sr:Response documents in the durable
// outbox (once each: the outbox is keyed by the delivery); Send POSTs what
// is due, marks a message sent when the receiver answers 2xx, and
// otherwise tries again after a backoff that doubles from MinBackoff to
// MaxBackoff. A message acknowledged is never sent again.
type Outbox struct {
	S      *Server
	Store  OutboxStore
	Client *http.Client
	// Now is the outbox's clock (the gateway's if nil).
	Now                    func() time.Time
	MinBackoff, MaxBackoff time.Duration
}

func (o *Outbox) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return o.S.G.Now()
}

// Collect moves the users' new deliveries into the outbox; it returns how
// many it added.
func (o *Outbox) Collect(ctx context.Context) (int, error) {
	added, _, err := o.collect(ctx)
	return added, err
}

// collect is Collect, also saying how many users have a Receive Response
// address.
func (o *Outbox) collect(ctx context.Context) (added, receivers int, err error) {
	recv, err := o.Store.DUISReceivers(ctx)
	if err != nil {
		return 0, 0, err
	}
	receivers = len(recv)
	for user, addr := range recv {
		after, err := o.Store.DUISLastSource(ctx, user)
		if err != nil {
			return added, receivers, err
		}
		for {
			ds, err := o.S.G.Store().Deliveries(ctx, user, after, 256)
			if err != nil {
				return added, receivers, err
			}
			if len(ds) == 0 {
				break // this user is up to date; on to the next
			}
			ms := make([]sqlstore.DUISMessage, 0, len(ds))
			for _, d := range ds {
				after = d.Cursor
				if d.Kind == "pre_command" {
					continue // DUIS has no message for it: the user asks for the request's state
				}
				body, reqID, err := o.document(ctx, d)
				if err != nil {
					return added, receivers, err
				}
				ms = append(ms, sqlstore.DUISMessage{UserID: user, Source: d.Cursor, RequestID: reqID, Address: addr, Body: body, NextAt: o.now()})
			}
			if err := o.Store.EnqueueDUIS(ctx, ms); err != nil {
				return added, receivers, err
			}
			added += len(ms)
		}
	}
	return added, receivers, nil
}

// document is the signed sr:Response of one delivery.
func (o *Outbox) document(ctx context.Context, d store.Delivery) ([]byte, string, error) {
	sp := o.S.G.Spec()
	r := o.response(d, o.S.dccID())
	if d.Kind != "alert" {
		sent, ok, err := o.Store.DUISRequest(ctx, d.RequestID)
		if err != nil {
			return nil, "", err
		}
		if ok {
			r.RequestID, r.SRV = sent.RequestID, sent.SRV
			if sent.SchemaVersion != "" { // '' for one recorded before the version was
				r.SchemaVersion = sent.SchemaVersion
			}
		}
		if s := sp.DUIS.SRV(r.SRV); s != nil {
			r.Ref = s.Ref
		}
	}
	doc, err := r.Document()
	if err != nil {
		return nil, "", err
	}
	b, err := duis.Sign(doc, o.S.Key, o.S.Cert)
	return b, r.RequestID, err
}

// response is the sr:Response of one delivery, as far as the delivery
// alone says (a result's DUIS RequestID, SRV and schemaVersion are the
// outbox store's).
func (o *Outbox) response(d store.Delivery, dccID string) duis.Response {
	sp := o.S.G.Spec()
	var p map[string]any
	_ = json.Unmarshal(d.Payload, &p)
	str := func(k string) string { s, _ := p[k].(string); return s }
	r := duis.Response{Namespace: sp.DUIS.Namespace, SchemaVersion: sp.DUIS.OwnSchemaVersion, At: d.CreatedAt, Code: "I0"}
	// The originator is who sends the message: the Device, for its
	// responses and Device Alerts; the DCC for what no Device sends (a
	// Non-Device Service's response, a DCC Alert).
	from := nz(d.DeviceID, dccID)
	if d.Kind == "alert" && str("service") == "A2" {
		from = dccID
	} else if svc := sp.ServiceByKey(str("service")); d.Kind != "alert" && svc != nil && !svc.DeviceService {
		from = dccID
	}
	r.ResponseID = fmt.Sprintf("%s:%s:%d", from, d.UserID, d.Cursor)
	if d.Kind == "alert" {
		r.Alert, r.AlertCode = "DeviceAlertMessage", d.Code
		if str("service") == "A2" {
			r.Alert = "DCCAlertMessage"
		}
		r.Message = str("name")
		return r
	}
	r.RequestID = d.RequestID
	r.SRV = srvOf(sp.DUIS.SRVs, str("service"))
	r.State, r.Reason, r.Clause, r.Message = str("state"), str("reason"), str("clause"), str("message")
	if code, ok := sp.DUIS.ReasonCodes[r.Reason]; ok && r.State != "accepted" {
		r.Code = code
	} else if r.State != "accepted" {
		r.Code = sp.DUIS.ResultCode
	}
	if raw, ok := p["response"]; ok && raw != nil {
		r.Payload, _ = json.Marshal(raw)
	}
	// A 5.1's result carries its schedule's DSPScheduleID, as DUIS's
	// does, in place of the payload (the XSD admits one of them).
	r.ScheduleID = scheduleID(sp, str("service"), r.State, d.RequestID)
	return r
}

// srvOf is the first SRV of a schedule row (for a request that came over
// the Connect API).
func srvOf(srvs []*spec.SRV, key string) string {
	for _, s := range srvs {
		if s.Service != nil && s.Service.Key() == key {
			return s.SRV
		}
	}
	return ""
}

func nz(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Send POSTs the due messages, each once per call; it returns how many the
// receivers acknowledged.
func (o *Outbox) Send(ctx context.Context) (int, error) {
	due, err := o.Store.DUISDue(ctx, o.now(), 256)
	if err != nil {
		return 0, err
	}
	client := o.Client
	if client == nil {
		client = http.DefaultClient
	}
	sent := 0
	for _, m := range due {
		// Processes sharing the store each see the message due: the one
		// that claims it sends it (until a claim lapses with its sender).
		claimed, err := o.Store.ClaimDUIS(ctx, m.ID, m.NextAt, o.now().Add(postTimeout+time.Minute))
		if err != nil {
			return sent, err
		}
		if !claimed {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, postTimeout)
		err = post(pctx, client, m, o.headers(ctx, m))
		cancel()
		if err != nil {
			if ferr := o.Store.MarkDUISFailed(ctx, m.ID, o.now().Add(o.backoff(m.Attempts)), err.Error()); ferr != nil {
				return sent, ferr
			}
			continue
		}
		switch err := o.Store.MarkDUISSent(ctx, m.ID, o.now()); {
		case errors.Is(err, sqlstore.ErrDUISSent):
			continue // acknowledged through another sender
		case err != nil:
			return sent, err
		}
		sent++
	}
	return sent, nil
}

// postTimeout bounds one POST to a receiver; a claim outlives it.
const postTimeout = 30 * time.Second

// headers are the X-DCCGate-* headers of a message, from the delivery it
// carries (the outbox keeps only the signed document, which has none of
// them: the DUIS XSD allows no foreign attributes). Without the delivery
// the message goes without them.
func (o *Outbox) headers(ctx context.Context, m sqlstore.DUISMessage) http.Header {
	ds, err := o.S.G.Store().Deliveries(ctx, m.UserID, m.Source-1, 1)
	if err != nil || len(ds) == 0 || ds[0].Cursor != m.Source {
		return nil
	}
	return o.response(ds[0], "").Headers()
}

func post(ctx context.Context, client *http.Client, m sqlstore.DUISMessage, h http.Header) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Address, bytes.NewReader(m.Body))
	if err != nil {
		return err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/xml")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", strings.TrimSpace(res.Status))
	}
	return nil
}

func (o *Outbox) backoff(attempts int) time.Duration {
	lo, hi := o.MinBackoff, o.MaxBackoff
	if lo <= 0 {
		lo = time.Second
	}
	if hi < lo {
		hi = 10 * time.Minute
	}
	d := lo
	for i := 0; i < attempts && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// Run collects and sends until ctx ends: when the gateway has new
// deliveries, and every poll of the given clock channel factory. While no
// user has a Receive Response address, new deliveries concern no one
// here and wait for the poll, which also finds an address added meanwhile
// (and, as ever, collects that user's stream from its start). A round
// reads the store twice even so, and the deliveries change with almost
// every commit: on PostgreSQL, 160 rounds a second at 360 requests a
// second were 7.5% of the statements.
func (o *Outbox) Run(ctx context.Context, tick func() <-chan time.Time) {
	for {
		changed := o.S.G.DeliveriesChanged()
		_, receivers, err := o.collect(ctx)
		if err == nil {
			_, _ = o.Send(ctx)
			if receivers == 0 {
				changed = nil // a nil channel: only the poll or ctx wakes the select
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-tick():
		}
	}
}
