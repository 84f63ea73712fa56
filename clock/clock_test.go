package clock

import (
	"testing"
	"time"
)

func TestVirtual(t *testing.T) {
	start := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	v := NewVirtual(start)
	ch := v.After(time.Hour)
	var seen time.Time
	v.OnAdvance(func(now time.Time) { seen = now })
	v.Advance(30 * time.Minute)
	select {
	case <-ch:
		t.Fatal("fired early")
	default:
	}
	v.Advance(30 * time.Minute)
	select {
	case got := <-ch:
		if !got.Equal(start.Add(time.Hour)) {
			t.Fatalf("fired at %v", got)
		}
	default:
		t.Fatal("did not fire")
	}
	if !seen.Equal(start.Add(time.Hour)) {
		t.Fatalf("hook saw %v", seen)
	}
	v.Set(start) // never backwards
	if !v.Now().Equal(start.Add(time.Hour)) {
		t.Fatal("clock went backwards")
	}
}
