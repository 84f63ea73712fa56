package parking

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
)

func TestLot(t *testing.T) {
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.Get("none"); ok || err != nil {
		t.Fatalf("Get of nothing: %v %v", ok, err)
	}
	if err := l.Put("a", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := l.Put("a", []byte("two")); err != nil { // parked again
		t.Fatal(err)
	}
	got, ok, err := l.Get("a")
	if err != nil || !ok || string(got) != "two" {
		t.Fatalf("Get: %q %v %v", got, ok, err)
	}
	if err := l.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := l.Get("a"); ok {
		t.Fatal("still parked after Delete")
	}
	// Concurrent parking of many premises, each taken back whole.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				key := fmt.Sprintf("%d/%d", g, i)
				want := bytes.Repeat([]byte(key), 100)
				if err := l.Put(key, want); err != nil {
					t.Error(err)
					return
				}
				if got, ok, err := l.Get(key); err != nil || !ok || !bytes.Equal(got, want) {
					t.Errorf("%s: %v %v", key, ok, err)
					return
				}
				if err := l.Delete(key); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	dir := l.dir
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the lot's directory is still there after Close: %v", err)
	}
}
