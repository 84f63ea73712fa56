package registration

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/dccgate/dccgate/clock"
	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
	"github.com/dccgate/dccgate/spec"
)

// zeros is a random source that is not: every ID it suffixes collides with
// the same ID of another process at the same time.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// TestTakenIDIsNotLost: when an ID is taken all the same (two processes at
// the same time drawing the same suffix), the record is written again
// under a new ID: a refresh request, a rejected file with its incident,
// and an applied file (not refused as a sequence number used).
func TestTakenIDIsNotLost(t *testing.T) {
	const (
		rdp = "00-00-00-00-00-00-0D-01"
		eno = "00-00-00-00-00-00-0E-01"
		gno = "00-00-00-00-00-00-06-01"
	)
	at := time.Date(2026, 2, 6, 10, 0, 0, 0, time.UTC)
	file := func(t *testing.T, fuel, mpxn, no string) []byte {
		t.Helper()
		var b bytes.Buffer
		if err := Write(&b, "csv", Header{RDP: rdp, Kind: KindIncremental, Fuel: fuel, Sequence: 1, Created: at},
			[]string{"mpxn", "effective_from", "network_operator"}, []map[string]string{{"mpxn": mpxn, "effective_from": "2026-01-01", "network_operator": no}}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	tests := []struct {
		note string
		// do is done by each of two processes; it returns the ID made.
		do func(t *testing.T, s *Service, i int) string
	}{
		{"a refresh request", func(t *testing.T, s *Service, i int) string {
			t.Helper()
			r, err := s.RequestRefresh(t.Context(), rdp, "", []string{"electricity", "gas"}[i])
			if err != nil {
				t.Fatal(err)
			}
			return r.ID
		}},
		{"a rejected file", func(t *testing.T, s *Service, i int) string {
			t.Helper()
			res, err := s.Load(t.Context(), rdp, "bad", []byte("nonsense\n"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Incidents[0].File != res.File.ID {
				t.Fatalf("the incident names %s, the file is %s", res.Incidents[0].File, res.File.ID)
			}
			return res.File.ID
		}},
		{"an applied file of each fuel", func(t *testing.T, s *Service, i int) string {
			t.Helper()
			f := [][]byte{file(t, "electricity", "1900000000001", eno), file(t, "gas", "7000001", gno)}[i]
			res, err := s.Load(t.Context(), rdp, "good", f)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Applied() {
				t.Fatalf("not applied: %s", res.Summary())
			}
			return res.File.ID
		}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			ctx := t.Context()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			sp := spec.MustDefault()
			var procs []*Service
			for range 2 {
				s, err := New(st, sp, clock.NewVirtual(at))
				if err != nil {
					t.Fatal(err)
				}
				s.random = zeros{}
				procs = append(procs, s)
			}
			for _, u := range []store.User{{ID: eno, Role: "ENO", Entered: true}, {ID: gno, Role: "GNO", Entered: true}} {
				if err := st.PutUser(ctx, u); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := procs[0].AddRDP(ctx, rdp, "", ""); err != nil {
				t.Fatal(err)
			}
			for _, no := range []string{eno, gno} {
				if _, err := procs[0].Nominate(ctx, no, rdp); err != nil {
					t.Fatal(err)
				}
			}
			a, b := tc.do(t, procs[0], 0), tc.do(t, procs[1], 1)
			if a == b {
				t.Fatalf("one ID twice: %s", a)
			}
		})
	}
}
