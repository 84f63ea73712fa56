package api

import (
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// toEngine turns an API Service Request into the engine's request: the
// oneof body names the row, its fields become the body.
func toEngine(sp *spec.Spec, in *dccgatev1.ServiceRequest) (*engine.Request, error) {
	env := in.GetEnvelope()
	if env == nil {
		return nil, fmt.Errorf("the request has no envelope")
	}
	m := in.ProtoReflect()
	oneof := m.Descriptor().Oneofs().ByName("body")
	fd := m.WhichOneof(oneof)
	if fd == nil {
		return nil, fmt.Errorf("the request has no body naming its service")
	}
	key, ok := dcc.ProtoBodies[string(fd.Name())]
	if !ok {
		return nil, fmt.Errorf("unknown body %s", fd.Name())
	}
	svc := sp.ServiceByKey(string(key))
	if svc == nil {
		return nil, fmt.Errorf("service %s is not in the loaded spec", key)
	}
	req := &engine.Request{
		Service: svc.Ref, Variant: svc.Variant,
		Category:  categoryName(env.GetCategory(), env.GetExecuteAt() != nil),
		Delivery:  deliveryName(env.GetDelivery()),
		RequestID: env.GetRequestId(), UserID: env.GetUserId(), DeviceID: env.GetDeviceId(),
		After: env.GetAfterRequestId(),
		Body:  client.BodyFields(m.Get(fd).Message()),
	}
	if env.GetExecuteAt() != nil {
		req.ExecuteAt = env.GetExecuteAt().AsTime().UTC()
	}
	if sc := env.GetSchedule(); sc != nil {
		every, err := time.ParseDuration(sc.GetEvery())
		if sc.GetEvery() != "" && err != nil {
			return nil, fmt.Errorf("schedule.every: %v", err)
		}
		s := &engine.Schedule{Service: sc.GetService(), Every: every}
		if sc.GetFirst() != nil {
			s.First = sc.GetFirst().AsTime().UTC()
		}
		if inner := sc.GetRequest(); inner != nil {
			im := inner.ProtoReflect()
			if ifd := im.WhichOneof(im.Descriptor().Oneofs().ByName("body")); ifd != nil {
				s.Body = client.BodyFields(im.Get(ifd).Message())
			}
		}
		req.Schedule = s
	}
	return req, nil
}

// categoryName is the engine's name of c. A request that names no
// category but gives an execution time is future dated (as DUIS's
// ExecutionDateTime makes one); a number the API does not define is passed
// on as such, for the engine to refuse as MALFORMED.
func categoryName(c dccgatev1.Category, executeAt bool) string {
	switch c {
	case dccgatev1.Category_CATEGORY_UNSPECIFIED:
		if executeAt {
			return "future_dated"
		}
		return "on_demand"
	case dccgatev1.Category_CATEGORY_ON_DEMAND:
		return "on_demand"
	case dccgatev1.Category_CATEGORY_FUTURE_DATED:
		return "future_dated"
	case dccgatev1.Category_CATEGORY_SCHEDULED:
		return "scheduled"
	}
	return fmt.Sprintf("category %d", c)
}

func deliveryName(d dccgatev1.Delivery) string {
	switch d {
	case dccgatev1.Delivery_DELIVERY_UNSPECIFIED, dccgatev1.Delivery_DELIVERY_WAN:
		return "wan"
	case dccgatev1.Delivery_DELIVERY_LOCAL:
		return "local"
	case dccgatev1.Delivery_DELIVERY_BOTH:
		return "both"
	}
	return fmt.Sprintf("delivery %d", d)
}

// toState turns a stored request into its API state.
func toState(r store.Request) *dccgatev1.RequestState {
	out := &dccgatev1.RequestState{
		RequestId: r.ID, Service: r.Service, UserId: r.UserID, DeviceId: r.DeviceID, State: r.State,
		Reason: r.Reason, Clause: r.Clause, Message: r.Message, PreCommand: r.PreCommand,
	}
	switch r.Category {
	case "future_dated":
		out.Category = dccgatev1.Category_CATEGORY_FUTURE_DATED
	case "scheduled":
		out.Category = dccgatev1.Category_CATEGORY_SCHEDULED
	default:
		out.Category = dccgatev1.Category_CATEGORY_ON_DEMAND
	}
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	out.ReceivedAt, out.ExecuteAt, out.DueAt, out.CompletedAt = ts(r.ReceivedAt), ts(r.ExecuteAt), ts(r.DueAt), ts(r.CompletedAt)
	if len(r.Response) > 0 {
		var m map[string]any
		if json.Unmarshal(r.Response, &m) == nil {
			if lc, ok := m["local_command"]; ok && r.Delivery != "wan" {
				b, _ := json.Marshal(lc)
				out.LocalCommand = b
			}
			if s, err := structpb.NewStruct(jsonSafe(m).(map[string]any)); err == nil {
				out.Response = s
			}
		}
	}
	return out
}

// jsonSafe converts values structpb cannot hold (none after a JSON round
// trip, but numbers may be json.Number) into ones it can.
func jsonSafe(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonSafe(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonSafe(e)
		}
		return x
	case json.Number:
		f, _ := x.Float64()
		return f
	}
	return v
}
