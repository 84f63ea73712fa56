package ssi

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// limiter is a token bucket per remote address: each address may act
// burst times at once, and once more every refill after that. Time is the
// SSI's clock's.
type limiter struct {
	burst  int
	refill time.Duration

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens int       // left at at
	at     time.Time // when tokens was counted
}

// maxBuckets bounds the addresses a limiter remembers at once (a memory
// bound against many addresses, not a rule of the spec): beyond it the
// buckets that have filled up again are forgotten, as an address not seen
// is one with a full bucket.
const maxBuckets = 10000

func newLimiter(burst int, refill time.Duration) *limiter {
	return &limiter{burst: burst, refill: refill, buckets: map[string]*bucket{}}
}

// level brings a bucket's tokens to time now.
func (l *limiter) level(b *bucket, now time.Time) {
	if n := int(now.Sub(b.at) / l.refill); n > 0 {
		b.tokens = min(l.burst, b.tokens+n)
		b.at = b.at.Add(time.Duration(n) * l.refill)
	}
	if b.tokens == l.burst || now.Before(b.at) {
		b.at = now
	}
}

// take takes one of the address's tokens at time now; when there is none
// it returns false and how long until there is one.
func (l *limiter) take(addr string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[addr]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.forgetFull(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[addr] = b
	}
	l.level(b, now)
	if b.tokens == 0 {
		return false, b.at.Add(l.refill).Sub(now)
	}
	b.tokens--
	return true, 0
}

// forgetFull forgets the buckets that are full at now, or, if none is, one
// of them.
func (l *limiter) forgetFull(now time.Time) {
	var any string
	for addr, b := range l.buckets {
		l.level(b, now)
		if b.tokens == l.burst {
			delete(l.buckets, addr)
		}
		any = addr
	}
	if len(l.buckets) >= maxBuckets {
		delete(l.buckets, any)
	}
}

// remoteAddr is the address a request came from, without its port. (Behind
// a proxy it is the proxy's: all its clients then share one bucket.)
func remoteAddr(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
