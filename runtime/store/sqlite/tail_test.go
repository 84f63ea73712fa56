package sqlite_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/sqlite"
)

// TestDeliveryTail: the deliveries a stream reads from memory are what the
// database holds, from any cursor and with any limit, as deliveries are
// appended, purged, reset, and appended by another process on the file.
func TestDeliveryTail(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tail.db")
	s := openFile(t, path)
	t0 := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	users := []string{"U1", "U2", "U3"}
	n := 0
	add := func(st store.Store, user string, k int) {
		t.Helper()
		var ds []store.Delivery
		for range k {
			n++
			ds = append(ds, store.Delivery{UserID: user, Kind: "alert", Code: "A1", DeviceID: "D", Payload: fmt.Appendf(nil, `{"n":%d}`, n),
				CreatedAt: t0.Add(time.Duration(n) * time.Second), DueAt: t0.Add(time.Hour)})
		}
		if _, err := st.AppendDeliveries(ctx, ds); err != nil {
			t.Fatal(err)
		}
	}
	// check compares s's answers with the database's: a store opened on
	// the file just now answers its first read of each user from it.
	check := func(step string) {
		t.Helper()
		truth, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer truth.Close()
		for _, u := range users {
			all, err := truth.Deliveries(ctx, u, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			afters := []int64{0}
			for i, d := range all { // the ends, and some of the middle
				if i < 8 || len(all)-i <= 8 || i%50 == 0 {
					afters = append(afters, d.Cursor-1, d.Cursor)
				}
			}
			for _, after := range afters {
				for _, limit := range []int{0, 1, 3} {
					want, err := truth.Deliveries(ctx, u, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					got, err := s.Deliveries(ctx, u, after, limit)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("%s: %s after %d limit %d:\n got %v\nwant %v", step, u, after, limit, got, want)
					}
				}
			}
		}
	}
	for _, u := range users[:2] { // U1 and U2 read before anything is appended
		if _, err := s.Deliveries(ctx, u, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	add(s, "U1", 3)
	add(s, "U2", 1)
	add(s, "U3", 2)
	check("appended")
	for range 400 { // past a tail's length
		add(s, "U1", 3)
	}
	add(s, "U2", 1)
	check("a long tail")
	// Retention deletes all but the newest few.
	if _, err := s.PurgeBefore(ctx, t0.Add(time.Duration(n-5)*time.Second), 100000); err != nil {
		t.Fatal(err)
	}
	check("purged")

	// Another process appends: this store's reads see it at once (the
	// signal), and its next commit too (data_version).
	other, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	add(other, "U2", 2)
	add(other, "U1", 1)
	check("after another process's appends")
	add(other, "U1", 1)
	add(s, "U3", 1)
	check("after another process's append and one of this store")
	other.Close()

	add(s, "U1", 2)
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	check("reset")
	add(s, "U2", 2)
	check("appended after the reset")
}
