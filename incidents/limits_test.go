package incidents_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/incidents"
	"github.com/dccgate/dccgate/runtime/store"
)

// TestTextIsBounded: a title, a description, a note or diagnostic data
// longer than the spec's incidents.limits is refused TOO_LONG with the
// limits' clause, counted in characters (a note of "é"s as long as the
// limit is taken), however the incident is reached (para 225, 244).
func TestTextIsBounded(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	lim := f.log.Limits()
	if lim.Title <= 0 || lim.Description <= 0 || lim.Note <= 0 || lim.DataBytes <= 0 || lim.BodyBytes <= 0 || lim.Clause == "" {
		t.Fatalf("limits %+v", lim)
	}
	chars := func(n int) string { return strings.Repeat("é", n) }
	inc := f.raise(t, elec, "3", "smart_meter", esme, false) // elec's own meter
	raise := func(title, description string) func() error {
		return func() error {
			d, err := f.log.Diagnose(ctx, elec, "chf_reachability", esme)
			if err != nil {
				return err
			}
			_, err = f.log.Raise(ctx, incidents.RaiseInput{Caller: elec, Category: "3", Area: "smart_meter", DeviceID: esme, Title: title, Description: description, DiagnosisID: d.ID})
			return err
		}
	}
	data := func(n int) []byte { return []byte(`"` + strings.Repeat("x", n-2) + `"`) } // n bytes of JSON
	tests := []struct {
		note string
		do   func() error
		want string
		says string
	}{
		{"a title at the limit", raise(chars(lim.Title), ""), "", ""},
		{"a title too long", raise(chars(lim.Title+1), ""), incidents.CodeTooLong, "the title is"},
		{"a description at the limit", raise("x", chars(lim.Description)), "", ""},
		{"a description too long", raise("x", chars(lim.Description+1)), incidents.CodeTooLong, "the description is"},
		{"a note at the limit", func() error { _, err := f.log.Update(ctx, elec, inc.ID, chars(lim.Note), nil); return err }, "", ""},
		{"a note too long", func() error { _, err := f.log.Update(ctx, elec, inc.ID, chars(lim.Note+1), nil); return err }, incidents.CodeTooLong, "the note is"},
		{"diagnostic data at the limit", func() error { _, err := f.log.Update(ctx, elec, inc.ID, "", data(lim.DataBytes)); return err }, "", ""},
		{"diagnostic data too long", func() error { _, err := f.log.Update(ctx, elec, inc.ID, "", data(lim.DataBytes+1)); return err }, incidents.CodeTooLong, "bytes"},
		{"the DCC's allocation note too long", func() error {
			_, err := f.log.Allocate(ctx, incidents.DCC, inc.ID, "", chars(lim.Note+1))
			return err
		}, incidents.CodeTooLong, "the note is"},
		{"a resolution's note too long", func() error { _, err := f.log.Resolve(ctx, elec, inc.ID, chars(lim.Note+1)); return err }, incidents.CodeTooLong, "the note is"},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			err := tc.do()
			if code(err) != tc.want || (tc.want == "" && err != nil) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if tc.want == "" {
				return
			}
			var e *incidents.Error
			if !errors.As(err, &e) || e.Clause != lim.Clause || !strings.Contains(e.Message, tc.says) {
				t.Fatalf("refusal %v: want clause %s, saying %q", err, lim.Clause, tc.says)
			}
		})
	}
	_, evs, err := f.log.Get(ctx, elec, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if n := len([]rune(ev.Note)); n > lim.Note {
			t.Fatalf("a note of %d characters was stored", n)
		}
	}
}

// TestClosedIncidentTakesNoUpdate: a closed incident's record is
// complete: a note or diagnostic data is refused TRANSITION_NOT_ALLOWED,
// by anyone, the DCC too; a resolved one still takes them (para 225).
func TestClosedIncidentTakesNoUpdate(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	inc := f.raise(t, elec, "3", "smart_meter", esme, false)
	if _, err := f.log.Resolve(ctx, elec, inc.ID, "fixed"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.log.Update(ctx, elec, inc.ID, "resolved: a note still", nil); err != nil {
		t.Fatalf("a resolved incident refused a note: %v", err)
	}
	if _, err := f.log.Close(ctx, elec, inc.ID, "done"); err != nil {
		t.Fatal(err)
	}
	_, before, err := f.log.Get(ctx, elec, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		note, actor, text string
		data              []byte
	}{
		{"the raiser's note", elec, "303", nil},
		{"the DCC's note", incidents.DCC, "after the fact", nil},
		{"diagnostic data", elec, "", []byte(`{"reachable":true}`)},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			_, err := f.log.Update(ctx, tc.actor, inc.ID, tc.text, tc.data)
			var e *incidents.Error
			if code(err) != incidents.CodeTransition || !errors.As(err, &e) || e.Clause == "" || !strings.Contains(e.Message, "closed") {
				t.Fatalf("got %v, want %s with a clause", err, incidents.CodeTransition)
			}
		})
	}
	if _, after, err := f.log.Get(ctx, elec, inc.ID); err != nil || len(after) != len(before) {
		t.Fatalf("timeline of %d events, was %d (%v)", len(after), len(before), err)
	}
}

// TestMeasureMonths: measures 4 and 5 of a month whose times the store
// cannot hold (with the longest Target Resolution Time before it) are
// refused month_out_of_range, naming the range, not a store error.
func TestMeasureMonths(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	month := func(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }
	first, last := f.log.MeasureMonths()
	if !first.Equal(month(1677, 10)) || !last.Equal(month(2262, 3)) {
		t.Fatalf("months %s to %s", first, last)
	}
	tests := []struct {
		note  string
		month time.Time
		want  string
	}{
		{"this month", month(2026, 3), ""},
		{"the first", first, ""},
		{"the last", last, ""},
		{"year 9999", month(9999, 12), incidents.CodeMonthOutOfRange},
		{"after the last", last.AddDate(0, 1, 0), incidents.CodeMonthOutOfRange},
		{"year 0", month(0, 1), incidents.CodeMonthOutOfRange},
		{"before the first", first.AddDate(0, -1, 0), incidents.CodeMonthOutOfRange},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			err := f.log.CheckMeasureMonth(tc.month)
			_, merr := f.log.Measures(ctx, tc.month, tc.month.AddDate(0, 1, 0))
			if code(err) != tc.want || code(merr) != tc.want || (tc.want == "" && (err != nil || merr != nil)) {
				t.Fatalf("check %v, measures %v; want %q", err, merr, tc.want)
			}
			if tc.want != "" && (!strings.Contains(err.Error(), "from 1677-10 to 2262-03") || strings.Contains(merr.Error(), "time out of range")) {
				t.Fatalf("%v; %v", err, merr)
			}
		})
	}
}

// TestDiagnoseNeedsADevice: a remote diagnostic of no device is refused
// DEVICE_REQUIRED, not run on device "".
func TestDiagnoseNeedsADevice(t *testing.T) {
	f := newFixture(t)
	for _, dev := range []string{"", "  "} {
		_, err := f.log.Diagnose(t.Context(), elec, "chf_reachability", dev)
		var e *incidents.Error
		if code(err) != incidents.CodeDeviceRequired || !errors.As(err, &e) || e.Clause == "" || !strings.Contains(e.Message, "device_id is required") {
			t.Fatalf("diagnose %q: %v", dev, err)
		}
	}
	if _, err := f.st.GetDiagnosis(t.Context(), ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a diagnosis stored: %v", err)
	}
}
