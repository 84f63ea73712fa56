package gateway_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/dccgate/dccgate/engine"
	"github.com/dccgate/dccgate/runtime/store"
)

// slowUserStore holds back once the answer of a read of one user, which it
// has already read: the read overlaps whatever happens meanwhile.
type slowUserStore struct {
	store.Store
	user          string
	read, release chan struct{}
	held          atomic.Bool
}

func (s *slowUserStore) GetUser(ctx context.Context, id string) (store.User, error) {
	u, err := s.Store.GetUser(ctx, id)
	if id == s.user && s.held.CompareAndSwap(false, true) {
		close(s.read)
		<-s.release
	}
	return u, err
}

// TestUserCacheKeepsNoOverlappedRead: a read of a user that began before
// one of its requests was stored does not leave the older counter in the
// cache (the gateway's next numbered request would reuse it).
func TestUserCacheKeepsNoOverlappedRead(t *testing.T) {
	var slow *slowUserStore
	w := newWorldWith(t, 0, func(st store.Store) store.Store {
		slow = &slowUserStore{Store: st, read: make(chan struct{}), release: make(chan struct{})}
		return slow
	})
	ctx := t.Context()
	slow.user = alpha
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = w.g.CachedUser(ctx, alpha) // reads counter 0, answers late
	}()
	<-slow.read
	read := &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}}
	if r, err := w.g.Submit(ctx, alpha, read); err != nil || r.Reason != "" {
		t.Fatalf("first: %s %s %v", r.State, r.Reason, err)
	}
	close(slow.release)
	<-done
	u, err := w.g.CachedUser(ctx, alpha)
	if err != nil || u.LastCounter != 1 {
		t.Fatalf("cached counter %d (%v), want 1", u.LastCounter, err)
	}
	read2 := &engine.Request{UserID: alpha, DeviceID: esme, Service: "4.1", Body: map[string]any{"register": "total"}}
	if r, err := w.g.Submit(ctx, alpha, read2); err != nil || r.Reason != "" || r.ID != alpha+":"+esme+":2" {
		t.Fatalf("second: %s %s %s %v", r.ID, r.State, r.Reason, err)
	}
}
