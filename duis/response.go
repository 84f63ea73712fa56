package duis

import (
	"fmt"
	"strings"
	"time"
)

// NSDCCGate is the namespace of the attributes dccgate adds to a
// response's sr:ResponseMessage (or alert message) so that nothing of its
// decision is lost in translation: dg:reason (our stable reason code),
// dg:clause (the clause of the source behind it), dg:state (the request's
// state), dg:message (the detail). They are inside the signed document.
const NSDCCGate = "urn:dccgate:duis:1"

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
	// Reason, Clause, State and Message are dccgate's own (dg: attributes).
	Reason, Clause, State, Message string
	// PreCommand is the Pre-Command of a transform (CV 4): the answer of
	// serviceT carries it in sr:PreCommand/sr:GBCSPayload.
	PreCommand []byte
	// Payload is the Device's response, carried in sr:GBCSPayload. dccgate's
	// emulated devices answer in JSON, not GBCS: the payload is that JSON.
	Payload []byte
	// Alert, where set, makes the body an alert message of that element
	// name (DeviceAlertMessage or DCCAlertMessage) with the alert code.
	Alert, AlertCode string
}

// Document builds the unsigned response document.
func (r Response) Document() (*Document, error) {
	var b strings.Builder
	fmt.Fprintf(&b, `<sr:Response xmlns:sr="%s" xmlns:dg="%s" schemaVersion="%s"><sr:Header>`, xmlEscape(r.Namespace), NSDCCGate, xmlEscape(r.SchemaVersion))
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
	fmt.Fprintf(&b, `<sr:%s`, el)
	for _, a := range [][2]string{{"reason", r.Reason}, {"clause", r.Clause}, {"state", r.State}, {"message", r.Message}} {
		if a[1] != "" {
			fmt.Fprintf(&b, ` dg:%s="%s"`, a[0], xmlEscape(oneLine(a[1])))
		}
	}
	b.WriteString(">")
	if r.Alert != "" {
		fmt.Fprintf(&b, `<sr:AlertCode>%s</sr:AlertCode>`, xmlEscape(r.AlertCode))
	}
	if r.Ref != "" {
		fmt.Fprintf(&b, `<sr:ServiceReference>%s</sr:ServiceReference><sr:ServiceReferenceVariant>%s</sr:ServiceReferenceVariant>`, xmlEscape(r.Ref), xmlEscape(r.SRV))
	}
	if len(r.PreCommand) > 0 {
		fmt.Fprintf(&b, `<sr:PreCommand><sr:GBCSVersion>dccgate</sr:GBCSVersion><sr:GBCSPayload>%s</sr:GBCSPayload></sr:PreCommand>`, EncodeBase64(r.PreCommand))
	}
	if len(r.Payload) > 0 {
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
	RequestID, ResponseCode, SRV   string
	Reason, Clause, State, Message string
	PreCommand, Payload            []byte
	AlertCode                      string
}

// DecodeResponse reads an sr:Response (after Verify, where it matters).
func DecodeResponse(doc *Document, ns string) (*DecodedResponse, error) {
	root := doc.Root
	if !root.Is(ns, "Response") {
		return nil, perr(CodeStructure, "the root is not sr:Response")
	}
	out := &DecodedResponse{}
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
	for _, a := range m.Attrs {
		if u, _ := m.lookupNS(a.Prefix); a.Prefix != "" && u == NSDCCGate {
			switch a.Local {
			case "reason":
				out.Reason = a.Value
			case "clause":
				out.Clause = a.Value
			case "state":
				out.State = a.Value
			case "message":
				out.Message = a.Value
			}
		}
	}
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
	return out, nil
}
