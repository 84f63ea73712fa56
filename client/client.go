// Package client is what a DCC User's software does with a critical
// Service Request's Pre-Command (para 155): correlate it with the request
// it sent (package correlate), and only then sign it.
//
//	req, _ := client.RequestFromProto(sp, serviceRequest, ack.GetRequestId())
//	sig, err := client.SignPreCommand(sp, req, state.GetPreCommand(), key)
//	// err: the Pre-Command does not mean the request; nothing was signed.
//
// The signature is ECDSA P-256 over SHA-256 of the Pre-Command, ASN.1 DER,
// as SubmitSignedPreCommandRequest.signature carries it. The package does
// not use the gateway's Transform (package precommand): the user's side
// stands on its own.
package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
	"github.com/dccgate/dccgate/correlate"
	"github.com/dccgate/dccgate/spec"
	"github.com/dccgate/dccgate/spec/dcc"
)

// Request is the user's own view of the request it sent.
type Request = correlate.Request

// SignPreCommand correlates preCommand with request under the spec sp and,
// only if it means the same, signs it with key. A Pre-Command that does
// not correlate is refused with the *correlate.Error saying why.
func SignPreCommand(sp *spec.Spec, request Request, preCommand []byte, key *ecdsa.PrivateKey) (signature []byte, err error) {
	if key == nil {
		return nil, errors.New("client: no key")
	}
	if key.Curve != elliptic.P256() {
		return nil, errors.New("client: the key is not ECDSA P-256")
	}
	if err := correlate.Correlate(sp, request, preCommand); err != nil {
		return nil, fmt.Errorf("client: not signed: %w", err)
	}
	h := sha256.Sum256(preCommand)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("client: sign: %w", err)
	}
	return sig, nil
}

// SignedPreCommand is SignPreCommand returning the API request that
// carries the signature back to the gateway.
func SignedPreCommand(sp *spec.Spec, request Request, preCommand []byte, key *ecdsa.PrivateKey) (*dccgatev1.SubmitSignedPreCommandRequest, error) {
	sig, err := SignPreCommand(sp, request, preCommand, key)
	if err != nil {
		return nil, err
	}
	return &dccgatev1.SubmitSignedPreCommandRequest{
		RequestId:        request.RequestID,
		SignedPreCommand: append([]byte(nil), preCommand...),
		Signature:        sig,
	}, nil
}

// RequestFromProto is the request a user sent over the API, as Correlate
// compares it: the envelope, and the fields of the body message as the
// gateway reads them (every field, unset ones at their zero value;
// timestamps as RFC 3339). requestID overrides the envelope's, for a
// request whose ID the gateway assigned (SubmitResponse.request_id).
func RequestFromProto(sp *spec.Spec, in *dccgatev1.ServiceRequest, requestID string) (Request, error) {
	if in == nil || in.GetEnvelope() == nil {
		return Request{}, errors.New("client: the request has no envelope")
	}
	env := in.GetEnvelope()
	m := in.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("body"))
	if fd == nil {
		return Request{}, errors.New("client: the request has no body naming its service")
	}
	key, ok := dcc.ProtoBodies[string(fd.Name())]
	if !ok {
		return Request{}, fmt.Errorf("client: unknown body %s", fd.Name())
	}
	svc := sp.ServiceByKey(string(key))
	if svc == nil {
		return Request{}, fmt.Errorf("client: service %s is not in the spec", key)
	}
	r := Request{
		RequestID: env.GetRequestId(),
		Service:   svc.Ref, Variant: svc.Variant,
		DeviceID: env.GetDeviceId(), UserID: env.GetUserId(),
		Body: BodyFields(m.Get(fd).Message()),
	}
	if requestID != "" {
		r.RequestID = requestID
	}
	if env.GetExecuteAt() != nil {
		r.ExecuteAt = env.GetExecuteAt().AsTime().UTC()
	}
	return r, nil
}

// BodyFields reads a body message into a map keyed by field name, in the
// types the engine and the correlation expect (every field, unset ones at
// their zero value; timestamps as RFC 3339 strings). The gateway reads a
// request's body with it too, so both sides read it the same way.
func BodyFields(m protoreflect.Message) map[string]any {
	out := map[string]any{}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		v := m.Get(fd)
		name := string(fd.Name())
		switch {
		case fd.IsList():
			l := v.List()
			ss := make([]string, l.Len())
			for j := range ss {
				ss[j] = l.Get(j).String()
			}
			out[name] = ss
		case fd.Kind() == protoreflect.MessageKind:
			ts, ok := v.Message().Interface().(*timestamppb.Timestamp)
			if !m.Has(fd) || !ok {
				out[name] = ""
				continue
			}
			out[name] = ts.AsTime().UTC().Format(time.RFC3339Nano)
		case fd.Kind() == protoreflect.StringKind:
			out[name] = v.String()
		case fd.Kind() == protoreflect.BoolKind:
			out[name] = v.Bool()
		case fd.Kind() == protoreflect.DoubleKind || fd.Kind() == protoreflect.FloatKind:
			out[name] = v.Float()
		default:
			out[name] = v.Int()
		}
	}
	return out
}
