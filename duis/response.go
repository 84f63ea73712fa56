package duis

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// NSDCCGate is the namespace of dccgate's own dg:Refusal document (an
// answer that is not an sr:Response).
const NSDCCGate = "urn:dccgate:duis:1"

// The headers that carry dccgate's decision beside an sr:Response. They
// are not in the document: the DUIS XSD allows no foreign attributes on
// its messages, and DCC Boxed's tools refuse a response that has them.
const (
	HeaderReason  = "X-DCCGate-Reason"  // our stable reason code
	HeaderClause  = "X-DCCGate-Clause"  // the clause of the source behind it
	HeaderState   = "X-DCCGate-State"   // the request's state
	HeaderMessage = "X-DCCGate-Message" // the detail, on one line
)

// Headers are the X-DCCGate-* headers of r (those set).
func (r Response) Headers() http.Header {
	h := http.Header{}
	for _, kv := range [][2]string{{HeaderReason, r.Reason}, {HeaderClause, r.Clause}, {HeaderState, r.State}, {HeaderMessage, r.Message}} {
		if kv[1] != "" {
			h.Set(kv[0], headerValue(kv[1]))
		}
	}
	return h
}

// headerValue keeps a value a valid header field: printable ASCII on one
// line (anything else becomes '?'), at most 512 bytes.
func headerValue(s string) string {
	b := []byte(oneLine(s))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > 512 {
		b = b[:512]
	}
	return string(b)
}

// Response is an sr:Response to build.
type Response struct {
	Namespace     string
	SchemaVersion string
	RequestID     string
	ResponseID    string
	Code          string // I0, I99, E...
	At            time.Time
	SRV           string
	Ref           string
	// Reason, Clause, State and Message are dccgate's own: not in the
	// document, they travel in the headers (Headers).
	Reason, Clause, State, Message string
	// PreCommand is the Pre-Command of a transform (CV 4): the answer of
	// serviceT carries it in sr:PreCommand/sr:GBCSPayload.
	PreCommand []byte
	// Payload is the Device's response, carried in sr:GBCSPayload. dccgate's
	// emulated devices answer in JSON, not GBCS: the payload is that JSON.
	Payload []byte
	// ScheduleID, where set, is the DSP Schedule ID a 5.1 Create Schedule
	// created: the message carries it in sr:DSPScheduleID, in place of a
	// payload (the XSD's ResponseMessage holds one of them).
	ScheduleID string
	// Alert, where set, makes the body an alert message of that element
	// name (DeviceAlertMessage or DCCAlertMessage) with the alert code.
	Alert, AlertCode string
}

// Document builds the unsigned response document.
func (r Response) Document() (*Document, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `<sr:Response xmlns:sr="%s" schemaVersion="%s"><sr:Header>`, xmlEscape(r.Namespace), xmlEscape(r.SchemaVersion))
	if r.RequestID != "" {
		fmt.Fprintf(&b, `<sr:RequestID>%s</sr:RequestID>`, xmlEscape(r.RequestID))
	}
	if r.ResponseID != "" {
		fmt.Fprintf(&b, `<sr:ResponseID>%s</sr:ResponseID>`, xmlEscape(r.ResponseID))
	}
	fmt.Fprintf(&b, `<sr:ResponseCode>%s</sr:ResponseCode><sr:ResponseDateTime>%s</sr:ResponseDateTime></sr:Header><sr:Body>`,
		xmlEscape(r.Code), r.At.UTC().Format("2006-01-02T15:04:05.000Z"))
	el := "ResponseMessage"
	if r.Alert != "" {
		el = r.Alert
	}
	fmt.Fprintf(&b, `<sr:%s>`, el)
	if r.Alert != "" {
		fmt.Fprintf(&b, `<sr:AlertCode>%s</sr:AlertCode>`, xmlEscape(r.AlertCode))
	}
	if r.Ref != "" {
		fmt.Fprintf(&b, `<sr:ServiceReference>%s</sr:ServiceReference><sr:ServiceReferenceVariant>%s</sr:ServiceReferenceVariant>`, xmlEscape(r.Ref), xmlEscape(r.SRV))
	}
	if len(r.PreCommand) > 0 {
		fmt.Fprintf(&b, `<sr:PreCommand><sr:GBCSVersion>dccgate</sr:GBCSVersion><sr:GBCSPayload>%s</sr:GBCSPayload></sr:PreCommand>`, EncodeBase64(r.PreCommand))
	}
	switch {
	case r.ScheduleID != "":
		fmt.Fprintf(&b, `<sr:DSPScheduleID>%s</sr:DSPScheduleID>`, xmlEscape(r.ScheduleID))
	case len(r.Payload) > 0:
		fmt.Fprintf(&b, `<sr:GBCSPayload>%s</sr:GBCSPayload>`, EncodeBase64(r.Payload))
	}
	fmt.Fprintf(&b, `</sr:%s></sr:Body></sr:Response>`, el)
	return Parse([]byte(b.String()), DefaultLimits)
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}

// DecodedResponse is what a client reads of an sr:Response.
type DecodedResponse struct {
	// SchemaVersion is the document's schemaVersion: the request's, for a
	// response to one.
	SchemaVersion                string
	RequestID, ResponseCode, SRV string
	// Reason, Clause, State and Message are not in the document: ReadHeaders
	// fills them from the HTTP answer's (or POST's) headers.
	Reason, Clause, State, Message string
	PreCommand, Payload            []byte
	AlertCode                      string
	// ScheduleID is the DSPScheduleID of a 5.1's result, if it has one.
	ScheduleID string
}

// DecodeResponse reads an sr:Response (after Verify, where it matters).
func DecodeResponse(doc *Document, ns string) (*DecodedResponse, error) {
	root := doc.Root
	if !root.Is(ns, "Response") {
		return nil, perr(CodeStructure, "the root is not sr:Response")
	}
	out := &DecodedResponse{}
	out.SchemaVersion, _ = root.Attr("schemaVersion")
	if h := directChild(root, ns, "Header"); h != nil {
		if x := directChild(h, ns, "RequestID"); x != nil {
			out.RequestID = x.Text()
		}
		if x := directChild(h, ns, "ResponseCode"); x != nil {
			out.ResponseCode = x.Text()
		}
	}
	body := directChild(root, ns, "Body")
	if body == nil || len(body.Elements()) != 1 {
		return nil, perr(CodeStructure, "sr:Response has no message")
	}
	m := body.Elements()[0]
	if x := directChild(m, ns, "ServiceReferenceVariant"); x != nil {
		out.SRV = x.Text()
	}
	if x := directChild(m, ns, "AlertCode"); x != nil {
		out.AlertCode = x.Text()
	}
	if pc := directChild(m, ns, "PreCommand"); pc != nil {
		if x := directChild(pc, ns, "GBCSPayload"); x != nil {
			out.PreCommand, _ = b64(x.Text())
		}
	}
	if x := directChild(m, ns, "GBCSPayload"); x != nil {
		out.Payload, _ = b64(x.Text())
	}
	if x := directChild(m, ns, "DSPScheduleID"); x != nil {
		out.ScheduleID = strings.TrimSpace(x.Text())
	}
	return out, nil
}

// ReadHeaders fills dccgate's own fields from the X-DCCGate-* headers.
func (d *DecodedResponse) ReadHeaders(h http.Header) {
	d.Reason, d.Clause, d.State, d.Message = h.Get(HeaderReason), h.Get(HeaderClause), h.Get(HeaderState), h.Get(HeaderMessage)
}
