// Package connectgw drives a gateway through its public Connect API: the
// AdminService of a `dccgate serve --virtual-clock` to set up worlds and move
// the clock, and the GatewayService as each user, with the certificate the
// admin Reset issues it. It implements scenario.Gateway, so the same
// scenarios run against any gateway that serves this API.
package connectgw

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/api/dccgate/v1/dccgatev1connect"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/conformance/scenario"
	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// Client is a scenario.Gateway over the public API.
type Client struct {
	url   string
	caPEM []byte
	admin dccgatev1connect.AdminServiceClient
	spec  *spec.Spec

	mu       sync.Mutex
	users    map[string]*userClient
	counters map[string]uint64
	// strangers are the clients of User IDs the world does not name.
	strangers map[string]*userClient
	// refused are the outcomes of requests the gateway refused with their
	// caller (a stranger), by request ID: it stored no request to ask for.
	refused map[string]scenario.Outcome
	// probeOnce finds out whether the gateway refuses a connection without
	// a client certificate (certless).
	probeOnce sync.Once
	certless  bool
	// Wait bounds how long Submit waits for an on-demand request to finish.
	Wait time.Duration
	// held are the critical requests sent held behind a predecessor, to be
	// signed as their step said once the gateway releases them with their
	// Pre-Command (para 127, 155).
	held map[string]heldRequest
	// now is the gateway's virtual clock as the client last set or saw it
	// (Reset, Advance); zero if unknown.
	now time.Time
	// after maps the request IDs of the sequenced requests sent to those of
	// their predecessors.
	after map[string]string
	// Issue, if set, issues a client certificate that the gateway trusts
	// for a User ID the world does not name (in-process, the gateway's own
	// CA): the request of a party that has not completed User Entry then
	// reaches the gateway as that User ID, and the gateway's refusal is the
	// outcome. Without it such a request goes without a certificate.
	Issue func(userID string) (pki.Issued, error)
}

type heldRequest struct {
	u    *userClient
	msg  *dccgatev1.ServiceRequest
	sign scenario.Sign
}

type userClient struct {
	api  dccgatev1connect.GatewayServiceClient
	cert pki.Issued
}

// New connects to the gateway at url (https://host:port) with the admin
// certificate and the CA that signed the gateway's server certificate.
func New(url string, caPEM []byte, adminCert pki.Issued, sp *spec.Spec) (*Client, error) {
	hc, err := httpClient(caPEM, adminCert)
	if err != nil {
		return nil, err
	}
	return &Client{
		url: strings.TrimRight(url, "/"), caPEM: caPEM, spec: sp,
		admin: dccgatev1connect.NewAdminServiceClient(hc, url, connect.WithGRPC()),
		users: map[string]*userClient{}, counters: map[string]uint64{}, Wait: 20 * time.Second,
	}, nil
}

func httpClient(caPEM []byte, cert pki.Issued) (*http.Client, error) {
	return pki.ClientHTTP(caPEM, cert, 64)
}

var _ scenario.Gateway = (*Client)(nil)

// Reset implements scenario.Gateway.
func (c *Client) Reset(ctx context.Context, w scenario.World) error {
	req := &dccgatev1.ResetRequest{Start: timestamppb.New(w.Start)}
	for _, u := range w.Users {
		req.Users = append(req.Users, &dccgatev1.WorldUser{Id: u.ID, Role: dccgatev1.Role(dccgatev1.Role_value["ROLE_"+u.Role]), Party: u.Party, Suspended: u.Suspended})
	}
	for _, r := range w.Registration {
		req.Registration = append(req.Registration, &dccgatev1.WorldRegistration{Mpxn: r.MPxN, Fuel: r.Fuel, ImportSupplier: r.ImportSupplier, ExportSupplier: r.ExportSupplier,
			NetworkOperator: r.NetworkOperator, Postcode: r.Postcode, Premises: r.Premises, Uprn: r.UPRN})
	}
	for _, d := range w.Inventory {
		req.Inventory = append(req.Inventory, &dccgatev1.InventoryDevice{DeviceId: d.Device, Type: dccgatev1.DeviceType(dccgatev1.DeviceType_value["DEVICE_TYPE_"+d.Type]),
			Status: dccgatev1.DeviceStatus(dccgatev1.DeviceStatus_value["DEVICE_STATUS_"+strings.ToUpper(d.Status)]), Mpxn: d.MPxN, Chf: d.CHF, Meter: d.Meter, Credentials: d.Credentials})
	}
	for _, a := range w.Anomaly {
		rule := &dccgatev1.AnomalyThreshold{Service: a.Service, Max: int64(a.Max), Per: durationpb.New(a.Per)}
		if a.Role != "" {
			rule.Role = dccgatev1.Role(dccgatev1.Role_value["ROLE_"+a.Role])
		}
		req.Anomaly = append(req.Anomaly, rule)
	}
	resp, err := c.admin.Reset(ctx, connect.NewRequest(req))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeUnimplemented {
			// dccgate serves its AdminService only with a virtual clock.
			return fmt.Errorf("%s has no AdminService (%w): the target must be served with `dccgate serve --virtual-clock`", c.url, err)
		}
		return err // the caller says it was the reset
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.users = map[string]*userClient{}
	c.counters = map[string]uint64{}
	c.strangers = map[string]*userClient{}
	c.refused = map[string]scenario.Outcome{}
	c.held = map[string]heldRequest{}
	c.now = w.Start
	c.after = map[string]string{}
	c.caPEM = []byte(resp.Msg.GetCaPem())
	for _, cr := range resp.Msg.GetCredentials() {
		cert := pki.Issued{CertPEM: []byte(cr.GetCertPem()), KeyPEM: []byte(cr.GetKeyPem())}
		hc, err := httpClient([]byte(resp.Msg.GetCaPem()), cert)
		if err != nil {
			return err
		}
		c.users[cr.GetUserId()] = &userClient{api: dccgatev1connect.NewGatewayServiceClient(hc, c.url), cert: cert}
	}
	return nil
}

func (c *Client) user(id string) (*userClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.users[id]
	if !ok {
		return nil, fmt.Errorf("no credentials for user %s (not in the world)", id)
	}
	return u, nil
}

// nextID gives the next request ID of a user: with counter zero, one above
// the highest counter sent for the user; else counter (a scenario testing
// replay protection), and the user's next requests continue above the
// highest sent.
func (c *Client) nextID(user, target string, counter uint64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if counter == 0 {
		counter = c.counters[user] + 1
	}
	c.counters[user] = max(c.counters[user], counter)
	if target == "" {
		target = "00-00-00-00-00-00-00-00"
	}
	return fmt.Sprintf("%s:%s:%d", user, target, counter)
}

// Submit implements scenario.Gateway: it sends the request as the user,
// signs the Pre-Command of a critical request as r.Sign says, and waits
// until the request has gone as far as it can without the clock moving.
func (c *Client) Submit(ctx context.Context, as string, r scenario.SubmitRequest) (scenario.SubmitResult, error) {
	u, err := c.user(as)
	stranger := err != nil
	msg, err := c.build(as, r)
	if err != nil {
		return scenario.SubmitResult{}, err
	}
	reqID := msg.GetEnvelope().GetRequestId()
	if stranger {
		// A sender the world does not know (it has not completed User
		// Entry, para 116, 281).
		if c.Issue == nil && c.refusesCertless(ctx) {
			// Without a certificate the gateway does not even take the
			// connection: that is its refusal of the unknown party.
			return c.refuse(reqID, scenario.Outcome{State: scenario.OutcomeRejected, Reason: string(dcc.ReasonUnknownUser),
				Clause: "refused at the TLS handshake: a client certificate is required"}), nil
		}
		if u, err = c.stranger(as); err != nil {
			return scenario.SubmitResult{}, err
		}
	}
	resp, err := u.api.Submit(ctx, connect.NewRequest(&dccgatev1.SubmitRequest{Request: msg}))
	if err != nil {
		switch {
		case connect.CodeOf(err) == connect.CodeInvalidArgument:
			return c.refuse(reqID, scenario.Outcome{State: scenario.OutcomeRejected, Reason: string(dcc.ReasonMalformed)}), nil
		case stranger && refusedCaller(err):
			// The gateway would not take the request of a caller that
			// is not a user: that is its refusal of an unknown user.
			return c.refuse(reqID, scenario.Outcome{State: scenario.OutcomeRejected, Reason: string(dcc.ReasonUnknownUser)}), nil
		}
		return scenario.SubmitResult{}, err
	}
	id := resp.Msg.GetRequestId()
	if a := msg.GetEnvelope().GetAfterRequestId(); a != "" {
		c.mu.Lock()
		if c.after == nil {
			c.after = map[string]string{}
		}
		c.after[id] = a
		c.mu.Unlock()
	}
	st, err := c.signAndWait(ctx, u, msg, id, resp.Msg.GetState(), r.Sign)
	if err != nil {
		return scenario.SubmitResult{}, err
	}
	if st.GetState() == "held" && r.Sign.Mode != scenario.SignNone {
		c.mu.Lock()
		c.held[id] = heldRequest{u: u, msg: msg, sign: r.Sign}
		c.mu.Unlock()
	}
	// Requests held behind this one may have been released.
	if err := c.signReleased(ctx); err != nil {
		return scenario.SubmitResult{}, err
	}
	if st.GetState() != "held" {
		if stranger {
			// The gateway keeps no request of a caller that is not a
			// user to ask for again: its answer is the outcome.
			return c.refuse(id, outcome(st)), nil
		}
		return scenario.SubmitResult{RequestID: id, Outcome: outcome(st)}, nil
	}
	o, err := c.Outcome(ctx, id)
	return scenario.SubmitResult{RequestID: id, Outcome: o}, err
}

// refuse is the result of a request the gateway refused whole, or of a
// stranger (it stored none to read again): its outcome is kept, for a later
// step's outcomes to read.
func (c *Client) refuse(id string, o scenario.Outcome) scenario.SubmitResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refused == nil {
		c.refused = map[string]scenario.Outcome{}
	}
	c.refused[id] = o
	return scenario.SubmitResult{RequestID: id, Outcome: o}
}

// client is the client of a User ID: the world's, or a stranger's (with a
// certificate from Issue where the client has it).
func (c *Client) client(id string) (*userClient, error) {
	if u, err := c.user(id); err == nil {
		return u, nil
	}
	return c.stranger(id)
}

// signAndWait signs the Pre-Command of a request awaiting its signature as
// sign says, and waits until the request has gone as far as it can without
// the clock moving.
func (c *Client) signAndWait(ctx context.Context, u *userClient, msg *dccgatev1.ServiceRequest, id string, st *dccgatev1.RequestState, sign scenario.Sign) (*dccgatev1.RequestState, error) {
	var err error
	if st.GetState() == "awaiting_signature" && sign.Mode != scenario.SignNone {
		signer := u
		if sign.Mode == scenario.SignWith {
			// A User ID the world does not name signs with a key of its
			// own, which no credential on any device is.
			if signer, err = c.client(sign.With); err != nil {
				return nil, err
			}
			if len(signer.cert.KeyPEM) == 0 {
				return nil, fmt.Errorf("sign with %s: the user is not in the world and the client cannot issue it a key (with --target, --certs must hold the gateway's CA key)", sign.With)
			}
		}
		key, err := pki.ParseKey(signer.cert.KeyPEM)
		if err != nil {
			return nil, err
		}
		// Correlate before signing (para 156): the client signs only a
		// Pre-Command that means what it asked for.
		creq, err := client.RequestFromProto(c.spec, msg, id)
		if err != nil {
			return nil, err
		}
		sig, err := client.SignPreCommand(c.spec, creq, st.GetPreCommand(), key)
		if err != nil {
			return nil, fmt.Errorf("request %s: not signed: %w", id, err)
		}
		sresp, err := u.api.SubmitSignedPreCommand(ctx, connect.NewRequest(&dccgatev1.SubmitSignedPreCommandRequest{RequestId: id, SignedPreCommand: st.GetPreCommand(), Signature: sig}))
		if err != nil {
			return nil, err
		}
		st = sresp.Msg
	}
	return c.wait(ctx, u, id, st)
}

// signReleased signs the held critical requests the gateway has released
// with their Pre-Command, as their steps said, and forgets those that
// ended otherwise (their predecessor failed).
//
// It looks again as long as a pass released one: the request signed may be
// the predecessor of another, looked at earlier in the pass, which its
// success has released in turn.
func (c *Client) signReleased(ctx context.Context) error {
	for {
		c.mu.Lock()
		ids := slices.Sorted(maps.Keys(c.held))
		c.mu.Unlock()
		released := false
		for _, id := range ids {
			c.mu.Lock()
			h := c.held[id]
			c.mu.Unlock()
			resp, err := h.u.api.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
			if err != nil {
				return err
			}
			st := resp.Msg
			if st.GetState() == "held" {
				// Still held: the gateway moves a successor with its
				// predecessor's end, in one write (para 127).
				continue
			}
			c.mu.Lock()
			delete(c.held, id)
			c.mu.Unlock()
			released = true
			if _, err := c.signAndWait(ctx, h.u, h.msg, id, st, h.sign); err != nil {
				return err
			}
		}
		if !released {
			return nil
		}
	}
}

// stranger is the client of a User ID the world does not name: with a
// certificate from Issue, or with none.
func (c *Client) stranger(id string) (*userClient, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u, ok := c.strangers[id]; ok {
		return u, nil
	}
	var hc *http.Client
	u := &userClient{}
	if c.Issue != nil {
		cert, err := c.Issue(id)
		if err != nil {
			return nil, fmt.Errorf("issuing a certificate for %s: %w", id, err)
		}
		if hc, err = httpClient(c.caPEM, cert); err != nil {
			return nil, err
		}
		u.cert = cert
	} else {
		cfg, err := pki.AnonymousTLS(c.caPEM)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
	}
	u.api = dccgatev1connect.NewGatewayServiceClient(hc, c.url)
	if c.strangers == nil {
		c.strangers = map[string]*userClient{}
	}
	c.strangers[id] = u
	return u, nil
}

// refusedCaller: the gateway refused the caller itself (not a user), with
// Unauthenticated or PermissionDenied.
func refusedCaller(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return true
	}
	return false
}

// refusesCertless reports, once per client, whether the gateway refuses a
// TLS connection that presents no client certificate: it closes it with an
// alert after the handshake (TLS 1.3) or during it (TLS 1.2).
func (c *Client) refusesCertless(ctx context.Context) bool {
	c.probeOnce.Do(func() {
		c.mu.Lock()
		cfg, err := pki.AnonymousTLS(c.caPEM)
		c.mu.Unlock()
		if err != nil {
			return // cannot tell: not refused
		}
		host := strings.TrimPrefix(strings.TrimPrefix(c.url, "https://"), "http://")
		if i := strings.IndexByte(host, '/'); i >= 0 {
			host = host[:i]
		}
		d := tls.Dialer{Config: cfg}
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := d.DialContext(dctx, "tcp", host)
		if err != nil {
			c.certless = isAlert(err)
			return
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		c.certless = err != nil && isAlert(err)
	})
	return c.certless
}

// isAlert: a TLS alert the peer sent about our certificate.
func isAlert(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "remote error: tls: certificate required") || strings.Contains(msg, "remote error: tls: bad certificate")
}

// wait polls until the request leaves the states that move without the
// clock (acknowledged, executing).
func (c *Client) wait(ctx context.Context, u *userClient, id string, st *dccgatev1.RequestState) (*dccgatev1.RequestState, error) {
	deadline := time.Now().Add(c.Wait)
	delay := time.Millisecond
	for st.GetState() == "acknowledged" || st.GetState() == "executing" {
		if time.Now().After(deadline) {
			return st, fmt.Errorf("request %s still %s after %s", id, st.GetState(), c.Wait)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
		resp, err := u.api.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
		if err != nil {
			return st, err
		}
		st = resp.Msg
	}
	return st, nil
}

// outcome maps a gateway state to the scenario format's outcomes.
func outcome(st *dccgatev1.RequestState) scenario.Outcome {
	s := st.GetState()
	switch s {
	case "awaiting_signature":
		s = scenario.OutcomePending
	case "expired":
		s = scenario.OutcomeCancelled
	}
	return scenario.Outcome{State: s, Reason: st.GetReason(), Clause: st.GetClause()}
}

// build makes the API request: the envelope, and the body message of the
// row with the fields set from r.Body.
func (c *Client) build(as string, r scenario.SubmitRequest) (*dccgatev1.ServiceRequest, error) {
	key := spec.Key(r.Service, r.Variant)
	env := &dccgatev1.Envelope{UserId: as, DeviceId: r.Device, RequestId: c.nextID(as, r.Device, r.Counter), AfterRequestId: r.After}
	switch r.When.Kind {
	case scenario.Future:
		env.Category = dccgatev1.Category_CATEGORY_FUTURE_DATED
		env.ExecuteAt = timestamppb.New(r.When.At)
	default:
		env.Category = dccgatev1.Category_CATEGORY_ON_DEMAND
	}
	switch r.Delivery {
	case "local":
		env.Delivery = dccgatev1.Delivery_DELIVERY_LOCAL
	case "both":
		env.Delivery = dccgatev1.Delivery_DELIVERY_BOTH
	default:
		env.Delivery = dccgatev1.Delivery_DELIVERY_WAN
	}
	if sc := r.When.Schedule; sc != nil {
		env.Schedule = &dccgatev1.ScheduleSpec{Service: spec.Key(sc.Service, sc.Variant), Every: sc.Every.String()}
		if !sc.First.IsZero() {
			env.Schedule.First = timestamppb.New(sc.First)
		}
	}
	msg := &dccgatev1.ServiceRequest{Envelope: env}
	if err := setBody(msg, key, r.Body); err != nil {
		return nil, err
	}
	return msg, nil
}

// SetBody sets the oneof body of the row key (e.g. "4.1") of msg from a map
// of field values, as the spec names them.
func SetBody(msg *dccgatev1.ServiceRequest, key string, body map[string]any) error {
	return setBody(msg, key, body)
}

// setBody sets the oneof body of the row key from a map of field values.
func setBody(msg *dccgatev1.ServiceRequest, key string, body map[string]any) error {
	fd, err := BodyField(key)
	if err != nil {
		return err
	}
	bm := msg.ProtoReflect().Mutable(fd).Message()
	for name, v := range body {
		if err := SetField(bm, name, v); err != nil {
			return fmt.Errorf("service %s: %w", key, err)
		}
	}
	return nil
}

// bodyFields is dcc.ProtoBodies the other way: ServiceRequest's body field
// of each row, looked up for every request built (a load run's too).
var bodyFields = sync.OnceValue(func() map[dcc.ServiceKey]protoreflect.FieldDescriptor {
	fields := (&dccgatev1.ServiceRequest{}).ProtoReflect().Descriptor().Fields()
	m := make(map[dcc.ServiceKey]protoreflect.FieldDescriptor, len(dcc.ProtoBodies))
	for name, k := range dcc.ProtoBodies {
		m[k] = fields.ByName(protoreflect.Name(name))
	}
	return m
})

// BodyField returns ServiceRequest's oneof body field of the row key.
func BodyField(key string) (protoreflect.FieldDescriptor, error) {
	fd := bodyFields()[dcc.ServiceKey(key)]
	if fd == nil {
		return nil, fmt.Errorf("service %s has no request body in the API", key)
	}
	return fd, nil
}

// SetField sets the field the spec names name of the body message m from
// v, a value as the spec's examples and the scenarios give it.
func SetField(m protoreflect.Message, name string, v any) error {
	f := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if f == nil {
		return fmt.Errorf("no field %s", name)
	}
	if err := setField(m, f, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

var errType = errors.New("value of the wrong type for the field")

func setField(m protoreflect.Message, f protoreflect.FieldDescriptor, v any) error {
	switch {
	case f.IsList():
		l := m.Mutable(f).List()
		switch xs := v.(type) {
		case []any:
			for _, x := range xs {
				s, ok := x.(string)
				if !ok {
					return errType
				}
				l.Append(protoreflect.ValueOfString(s))
			}
		case []string:
			for _, s := range xs {
				l.Append(protoreflect.ValueOfString(s))
			}
		default:
			return errType
		}
	case f.Kind() == protoreflect.MessageKind:
		s, ok := v.(string)
		if !ok {
			return errType
		}
		if s == "" {
			return nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return err
		}
		m.Set(f, protoreflect.ValueOfMessage(timestamppb.New(t).ProtoReflect()))
	case f.Kind() == protoreflect.StringKind:
		s, ok := v.(string)
		if !ok {
			return errType
		}
		m.Set(f, protoreflect.ValueOfString(s))
	case f.Kind() == protoreflect.BoolKind:
		b, ok := v.(bool)
		if !ok {
			return errType
		}
		m.Set(f, protoreflect.ValueOfBool(b))
	case f.Kind() == protoreflect.DoubleKind:
		switch n := v.(type) {
		case float64:
			m.Set(f, protoreflect.ValueOfFloat64(n))
		case int64:
			m.Set(f, protoreflect.ValueOfFloat64(float64(n)))
		default:
			return errType
		}
	default:
		switch n := v.(type) {
		case int64:
			m.Set(f, protoreflect.ValueOfInt64(n))
		case int:
			m.Set(f, protoreflect.ValueOfInt64(int64(n)))
		case float64:
			if n != float64(int64(n)) {
				return errType
			}
			m.Set(f, protoreflect.ValueOfInt64(int64(n)))
		default:
			return errType
		}
	}
	return nil
}

// SignSlice bounds one move of the clock while the client holds critical
// requests sequenced behind others: a held request released meanwhile gets
// its Pre-Command then, and the sender has the gateway's signature
// time-to-live from then to sign it (para 155; runtime/gateway's
// SignatureTTL, one hour by default, which the public API does not give).
// Were the clock moved past that in one go, the gateway would expire the
// request before the client saw its Pre-Command. Well under the hour, so a
// gateway configured a little shorter is served too.
const SignSlice = 20 * time.Minute

// Advance implements scenario.Gateway; requests released meanwhile are
// signed as their steps said. While requests are held it moves the clock in
// slices of at most SignSlice, signing what each slice released, or in one
// move up to the time the first of their predecessors is to run (quiet);
// once none is held, the rest in one move.
func (c *Client) Advance(ctx context.Context, d time.Duration) error {
	for {
		by := d
		if c.holding() {
			q, err := c.quiet(ctx)
			if err != nil {
				return err
			}
			by = min(d, max(q, SignSlice))
		}
		resp, err := c.admin.Advance(ctx, connect.NewRequest(&dccgatev1.AdvanceRequest{By: durationpb.New(by)}))
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.now = resp.Msg.GetNow().AsTime()
		c.mu.Unlock()
		if err := c.signReleased(ctx); err != nil {
			return err
		}
		if d -= by; d <= 0 {
			return nil
		}
	}
}

// holding reports whether a critical request is held, to be signed once
// released.
func (c *Client) holding() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held) > 0
}

// quiet is how far the clock can move before a held request may be
// released: until the earliest execution time of the future-dated requests
// still pending that head their chains of predecessors (none of the chain
// can succeed before its head has run); zero when a chain ends in anything
// else, since that may end at any time.
func (c *Client) quiet(ctx context.Context) (time.Duration, error) {
	c.mu.Lock()
	now := c.now
	var preds []string
	for _, h := range c.held {
		preds = append(preds, h.msg.GetEnvelope().GetAfterRequestId())
	}
	after := maps.Clone(c.after)
	c.mu.Unlock()
	if now.IsZero() {
		return 0, nil
	}
	var q time.Duration
	for i, id := range preds {
		var head *dccgatev1.RequestState
		for range maxChain {
			user, _, _ := strings.Cut(id, ":")
			u, err := c.user(user)
			if err != nil {
				return 0, nil
			}
			resp, err := u.api.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
			if err != nil {
				if connect.CodeOf(err) == connect.CodeNotFound {
					return 0, nil
				}
				return 0, err
			}
			if resp.Msg.GetState() != "held" || after[id] == "" {
				head = resp.Msg
				break
			}
			id = after[id]
		}
		if head == nil || head.GetState() != "pending" || head.GetExecuteAt() == nil || !head.GetExecuteAt().AsTime().After(now) {
			return 0, nil
		}
		if d := head.GetExecuteAt().AsTime().Sub(now); i == 0 || d < q {
			q = d
		}
	}
	return q, nil
}

// maxChain bounds how many predecessors quiet follows back from a held
// request.
const maxChain = 16

// Event implements scenario.Gateway; requests released meanwhile are
// signed.
func (c *Client) Event(ctx context.Context, device, kind string) error {
	if _, err := c.admin.DeviceEvent(ctx, connect.NewRequest(&dccgatev1.DeviceEventRequest{DeviceId: device, Kind: kind})); err != nil {
		return err
	}
	return c.signReleased(ctx)
}

// Outcome implements scenario.Gateway.
func (c *Client) Outcome(ctx context.Context, requestID string) (scenario.Outcome, error) {
	c.mu.Lock()
	o, ok := c.refused[requestID]
	c.mu.Unlock()
	if ok {
		return o, nil
	}
	user, _, _ := strings.Cut(requestID, ":")
	u, err := c.client(user)
	if err != nil {
		return scenario.Outcome{}, err
	}
	resp, err := u.api.GetRequest(ctx, connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: requestID}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			return scenario.Outcome{}, nil
		}
		return scenario.Outcome{}, err
	}
	return outcome(resp.Msg), nil
}

// DeviceStatus implements scenario.Gateway.
func (c *Client) DeviceStatus(ctx context.Context, device string) (string, error) {
	resp, err := c.admin.GetDevice(ctx, connect.NewRequest(&dccgatev1.GetDeviceRequest{DeviceId: device}))
	if err != nil {
		if connect.CodeOf(err) == connect.CodeNotFound {
			return "", nil
		}
		return "", err
	}
	return strings.ToLower(strings.TrimPrefix(resp.Msg.GetStatus().String(), "DEVICE_STATUS_")), nil
}

// Enrolled implements scenario.Gateway.
func (c *Client) Enrolled(ctx context.Context, mpxn string) (bool, error) {
	resp, err := c.admin.GetEnrolment(ctx, connect.NewRequest(&dccgatev1.GetEnrolmentRequest{Mpxn: mpxn}))
	if err != nil {
		return false, err
	}
	return resp.Msg.GetEnrolled(), nil
}

// Alerts implements scenario.Gateway.
func (c *Client) Alerts(ctx context.Context, since int64) ([]scenario.Alert, int64, error) {
	var out []scenario.Alert
	// The gateway lists a page at a time: read to the end, or a long
	// advance's alerts would fall to the next step.
	for {
		resp, err := c.admin.ListDeliveries(ctx, connect.NewRequest(&dccgatev1.ListDeliveriesRequest{After: since}))
		if err != nil {
			return nil, since, err
		}
		ds := resp.Msg.GetDeliveries()
		for _, d := range ds {
			// Device Alerts and the DCC's own notices to users (DCC Alerts:
			// a meter decommissioned or withdrawn to its network operator,
			// H6.10; a device commissioned to its supplier, para 186).
			if k := d.GetKind(); k == "alert" || k == "notification" {
				out = append(out, scenario.Alert{To: d.GetUserId(), Code: d.GetCode(), Device: d.GetDeviceId()})
			}
		}
		if len(ds) == 0 || resp.Msg.GetCursor() <= since {
			return out, since, nil
		}
		since = resp.Msg.GetCursor()
	}
}

// Schedules implements scenario.Gateway.
func (c *Client) Schedules(ctx context.Context, user, device string) (int, error) {
	resp, err := c.admin.CountSchedules(ctx, connect.NewRequest(&dccgatev1.CountSchedulesRequest{UserId: user, DeviceId: device}))
	if err != nil {
		return 0, err
	}
	return int(resp.Msg.GetCount()), nil
}
