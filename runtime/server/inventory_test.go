package server

import (
	"slices"
	"sort"
	"testing"

	"connectrpc.com/connect"

	dccgatev1 "github.com/dccgate/dccgate/api/dccgate/v1"
)

// readInventory sends 8.2 and returns the device IDs of the answer.
func readInventory(t *testing.T, srv *Server, user, device string, q *dccgatev1.ReadInventory) []string {
	t.Helper()
	c := clientAs(t, srv, user)
	resp, err := c.Submit(t.Context(), connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: user, DeviceId: device},
		Body:     &dccgatev1.ServiceRequest_ReadInventory{ReadInventory: q},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	id := resp.Msg.GetRequestId()
	srv.G.WaitIdle(t.Context())
	st, err := c.GetRequest(t.Context(), connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Msg.GetState() != "accepted" {
		t.Fatalf("8.2 %+v: %s %s %s", q, st.Msg.GetState(), st.Msg.GetReason(), st.Msg.GetMessage())
	}
	var ids []string
	for _, v := range st.Msg.GetResponse().GetFields()["devices"].GetListValue().GetValues() {
		ids = append(ids, v.GetStructValue().GetFields()["device_id"].GetStringValue())
	}
	sort.Strings(ids)
	return ids
}

// TestReadInventory checks 8.2 as Table 5.2 defines it: by Device ID with
// the association closure (I)-(IV), by MPxN, by postcode and premises, by
// UPRN; Type 2 Devices left out; each user sees what is its own.
func TestReadInventory(t *testing.T) {
	srv := startDemo(t)
	// Premises 1 of the demo world: CHF, GPF, ESME, GSME, IHD, PPMID. The
	// electricity import supplier sees the hub, its meter and the PPMID on
	// it; the gas side is another supplier's; the IHD is a Type 2 Device.
	premises1 := []string{"00-DB-00-00-00-00-9D-01", "00-DB-00-00-00-00-C0-01", "00-DB-00-00-00-00-E0-01"}
	tests := []struct {
		note, user, device string
		q                  *dccgatev1.ReadInventory
		want               []string
	}{
		{"by device: the closure of associations", supplier, meter, &dccgatev1.ReadInventory{}, premises1},
		{"by MPAN", supplier, "", &dccgatev1.ReadInventory{Mpxn: "1900000000001"}, premises1},
		{"by postcode and premises", supplier, "", &dccgatev1.ReadInventory{Postcode: "SW1H 0ET", Premises: "2"}, []string{"00-DB-00-00-00-00-C0-02", "00-DB-00-00-00-00-E0-02"}},
		{"the gas supplier by postcode and premises", "00-00-00-00-00-00-0A-02", "", &dccgatev1.ReadInventory{Postcode: "SW1H 0ET", Premises: "2"}, []string{"00-DB-00-00-00-00-6A-02", "00-DB-00-00-00-00-6F-02", "00-DB-00-00-00-00-C0-02"}},
		{"an agent sees by role alone", "00-00-00-00-00-00-0C-01", meter, &dccgatev1.ReadInventory{}, []string{"00-DB-00-00-00-00-6A-01", "00-DB-00-00-00-00-6F-01", "00-DB-00-00-00-00-9D-01", "00-DB-00-00-00-00-C0-01", "00-DB-00-00-00-00-E0-01"}},
		{"by UPRN", supplier, "", &dccgatev1.ReadInventory{Uprn: "100001"}, premises1},
		{"another supplier sees none of it", other, meter, &dccgatev1.ReadInventory{}, nil},
		{"the gas network operator sees the gas side", "00-00-00-00-00-00-06-01", "", &dccgatev1.ReadInventory{Mpxn: "7000001"}, []string{"00-DB-00-00-00-00-6A-01", "00-DB-00-00-00-00-6F-01", "00-DB-00-00-00-00-C0-01"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			got := readInventory(t, srv, tc.user, tc.device, tc.q)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestReadInventoryHubOfThePremises: a hub serves its premises. The gas
// supplier there sees it by postcode and premises while the gas meter is
// not on it (before it adds it, para 184, 197; here after removing it),
// though the hub is then bound to the electricity MPAN alone.
func TestReadInventoryHubOfThePremises(t *testing.T) {
	srv := startDemo(t)
	const gas = "00-00-00-00-00-00-0A-02"
	c := clientAs(t, srv, gas)
	resp, err := c.Submit(t.Context(), connect.NewRequest(&dccgatev1.SubmitRequest{Request: &dccgatev1.ServiceRequest{
		Envelope: &dccgatev1.Envelope{UserId: gas, DeviceId: "00-DB-00-00-00-00-C0-01"},
		Body: &dccgatev1.ServiceRequest_UpdateHanDeviceLog{UpdateHanDeviceLog: &dccgatev1.UpdateHANDeviceLog{
			Remove: []string{"00-DB-00-00-00-00-6A-01"}}},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	srv.G.WaitIdle(t.Context())
	st, err := c.GetRequest(t.Context(), connect.NewRequest(&dccgatev1.GetRequestRequest{RequestId: resp.Msg.GetRequestId()}))
	if err != nil || st.Msg.GetState() != "accepted" {
		t.Fatalf("8.11 removing the gas meter: %v %s %s %s", err, st.Msg.GetState(), st.Msg.GetReason(), st.Msg.GetMessage())
	}
	got := readInventory(t, srv, gas, "", &dccgatev1.ReadInventory{Postcode: "SW1H 0ET", Premises: "1"})
	if !slices.Contains(got, "00-DB-00-00-00-00-C0-01") {
		t.Fatalf("the gas supplier of premises 1 sees %v, not its hub", got)
	}
	if slices.Contains(got, "00-DB-00-00-00-00-E0-01") || slices.Contains(got, "00-DB-00-00-00-00-9D-01") {
		t.Fatalf("the gas supplier sees the electricity side: %v", got)
	}
}
