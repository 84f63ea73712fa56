package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Input is the JSON form of a request and its facts, as `dccgate decide`
// reads it. Unknown keys are errors.
type Input struct {
	Request RequestJSON `json:"request"`
	Facts   FactsJSON   `json:"facts"`
}

// RequestJSON is the JSON form of a Request.
type RequestJSON struct {
	Service   string         `json:"service"`
	Variant   string         `json:"variant,omitempty"`
	Category  string         `json:"category,omitempty"`
	Delivery  string         `json:"delivery,omitempty"`
	RequestID string         `json:"request_id,omitempty"`
	UserID    string         `json:"user_id"`
	DeviceID  string         `json:"device_id,omitempty"`
	ExecuteAt string         `json:"execute_at,omitempty"`
	Schedule  *ScheduleJSON  `json:"schedule,omitempty"`
	Body      map[string]any `json:"body,omitempty"`
}

// ScheduleJSON is the JSON form of a Schedule.
type ScheduleJSON struct {
	Service string         `json:"service"`
	Every   string         `json:"every,omitempty"`
	First   string         `json:"first,omitempty"`
	Body    map[string]any `json:"body,omitempty"`
}

// FactsJSON is the JSON form of Facts.
type FactsJSON struct {
	Now  string `json:"now,omitempty"`
	User struct {
		Known     bool   `json:"known"`
		Role      string `json:"role"`
		Suspended bool   `json:"suspended,omitempty"`
	} `json:"user"`
	Device struct {
		Known        bool   `json:"known"`
		Type         string `json:"type,omitempty"`
		Status       string `json:"status,omitempty"`
		CHFStatus    string `json:"chf_status,omitempty"`
		MeterStatus  string `json:"meter_status,omitempty"`
		MPxNHasMeter bool   `json:"mpxn_has_meter,omitempty"`
		Unbound      bool   `json:"unbound,omitempty"`
		NoHub        bool   `json:"no_hub,omitempty"`
	} `json:"device"`
	Registration []RegistrationJSON `json:"registration,omitempty"`
	// Listed: the devices the request adds to or removes from its hub's
	// Device Log that the inventory holds, by Device ID.
	Listed map[string]struct {
		Type         string             `json:"type,omitempty"`
		Status       string             `json:"status,omitempty"`
		Registration []RegistrationJSON `json:"registration,omitempty"`
	} `json:"listed,omitempty"`
	Credentials struct {
		CertificateInvalid bool `json:"certificate_invalid,omitempty"`
		SignatureInvalid   bool `json:"signature_invalid,omitempty"`
	} `json:"credentials"`
	Anomaly struct {
		Count int `json:"count"`
		Max   int `json:"max"`
	} `json:"anomaly"`
	// HeldBehind: the row key of the unfinished request this one is
	// sequenced after, if any.
	HeldBehind string `json:"held_behind,omitempty"`
}

// RegistrationJSON is the JSON form of a Registration.
type RegistrationJSON struct {
	MPxN            string `json:"mpxn"`
	Fuel            string `json:"fuel"`
	ImportSupplier  string `json:"import_supplier,omitempty"`
	ExportSupplier  string `json:"export_supplier,omitempty"`
	NetworkOperator string `json:"network_operator,omitempty"`
	Postcode        string `json:"postcode,omitempty"`
	Premises        string `json:"premises,omitempty"`
	UPRN            string `json:"uprn,omitempty"`
}

func (g RegistrationJSON) registration() Registration {
	return Registration{MPxN: g.MPxN, Fuel: g.Fuel, ImportSupplier: g.ImportSupplier, ExportSupplier: g.ExportSupplier, NetworkOperator: g.NetworkOperator,
		Postcode: g.Postcode, Premises: g.Premises, UPRN: g.UPRN}
}

// DecodeInput reads one Input strictly. A time that does not parse is an
// error naming its key; a missing `now` is the zero time.
func DecodeInput(data []byte) (*Request, *Facts, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in Input
	if err := dec.Decode(&in); err != nil {
		return nil, nil, fmt.Errorf("decide input: %w", err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("decide input: more than one JSON value")
	}
	parse := func(key, s string) (time.Time, error) {
		if s == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("decide input: %s: %q is not an RFC 3339 time", key, s)
		}
		return t.UTC(), nil
	}
	r := &in.Request
	req := &Request{Service: r.Service, Variant: r.Variant, Category: r.Category, Delivery: r.Delivery,
		RequestID: r.RequestID, UserID: r.UserID, DeviceID: r.DeviceID, Body: r.Body}
	var err error
	if req.ExecuteAt, err = parse("request.execute_at", r.ExecuteAt); err != nil {
		return nil, nil, err
	}
	if r.Schedule != nil {
		sc := &Schedule{Service: r.Schedule.Service, Body: r.Schedule.Body}
		if r.Schedule.Every != "" {
			if sc.Every, err = time.ParseDuration(r.Schedule.Every); err != nil {
				return nil, nil, fmt.Errorf("decide input: request.schedule.every: %w", err)
			}
		}
		if sc.First, err = parse("request.schedule.first", r.Schedule.First); err != nil {
			return nil, nil, err
		}
		req.Schedule = sc
	}
	fj := &in.Facts
	f := &Facts{
		User:        User{Known: fj.User.Known, Role: fj.User.Role, Suspended: fj.User.Suspended},
		Device:      Device{Known: fj.Device.Known, Type: fj.Device.Type, Status: fj.Device.Status, CHFStatus: fj.Device.CHFStatus, MeterStatus: fj.Device.MeterStatus, MPxNHasMeter: fj.Device.MPxNHasMeter, Unbound: fj.Device.Unbound, NoHub: fj.Device.NoHub},
		Credentials: Credentials{CertificateInvalid: fj.Credentials.CertificateInvalid, SignatureInvalid: fj.Credentials.SignatureInvalid},
		Anomaly:     Anomaly{Count: fj.Anomaly.Count, Max: fj.Anomaly.Max},
		HeldBehind:  fj.HeldBehind,
	}
	if f.Now, err = parse("facts.now", fj.Now); err != nil {
		return nil, nil, err
	}
	for _, g := range fj.Registration {
		f.Registration = append(f.Registration, g.registration())
	}
	for id, l := range fj.Listed {
		if f.Listed == nil {
			f.Listed = map[string]Listed{}
		}
		fl := Listed{Type: l.Type, Status: l.Status}
		for _, g := range l.Registration {
			fl.Registration = append(fl.Registration, g.registration())
		}
		f.Listed[id] = fl
	}
	return req, f, nil
}

// DecisionJSON is the JSON form of a Decision.
type DecisionJSON struct {
	Outcome    string `json:"outcome"`
	Reason     string `json:"reason,omitempty"`
	Clause     string `json:"clause,omitempty"`
	Detail     string `json:"detail,omitempty"`
	Service    string `json:"service,omitempty"`
	Name       string `json:"name,omitempty"`
	PreCommand bool   `json:"pre_command,omitempty"`
}

// JSON returns the decision's JSON form.
func (d Decision) JSON() DecisionJSON {
	out := DecisionJSON{Outcome: d.Outcome, Reason: string(d.Reason), Clause: d.Clause, Detail: d.Detail, PreCommand: d.PreCommand}
	if d.Service != nil {
		out.Service, out.Name = d.Service.Key(), d.Service.Name
	}
	return out
}
