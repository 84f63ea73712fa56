package store

import (
	"context"
	"time"
)

// AlertQuarantine keeps the device alerts anomaly detection stopped (para
// 136): the DCC examines them; they are not sent on. The SQL backends
// implement it beside Store; storetest RunAlertQuarantine tests it.
type AlertQuarantine interface {
	// QuarantineAlert stores a quarantined alert; its ID is assigned.
	QuarantineAlert(ctx context.Context, a QuarantinedAlert) (int64, error)
	// QuarantinedAlerts lists them by ID (the order they were stored).
	QuarantinedAlerts(ctx context.Context, f QuarantineFilter) ([]QuarantinedAlert, error)
}

// QuarantinedAlert is a device alert anomaly detection stopped, with the
// users it was for and why.
type QuarantinedAlert struct {
	ID       int64
	DeviceID string
	Code     string
	// Recipients are the users it would have gone to.
	Recipients []string
	// Payload is the alert as it would have been delivered (JSON).
	Payload []byte
	// Reason and Clause are the stable reason code and its clause; Detail
	// says which threshold it passed.
	Reason, Clause, Detail string
	RaisedAt               time.Time
	QuarantinedAt          time.Time
}

// QuarantineFilter narrows QuarantinedAlerts: a device's ("" for all),
// with an ID above AfterID, at most Limit (0: no limit).
type QuarantineFilter struct {
	DeviceID string
	AfterID  int64
	Limit    int
}
