package gateway

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/dccgate/dccgate/runtime/pki"
	"github.com/dccgate/dccgate/runtime/store"
)

// userCache keeps users' records for the checks of every submission, on a
// store this process owns (no leases): every change to a user is made
// through the gateway (putUser, Reset), and every counter a stored request
// takes is noted (tookCounter), so the copy is the store's. With leases
// (several processes share the store) each read goes to the store.
type userCache struct {
	mu sync.Mutex
	m  map[string]store.User
	// ver (by user) moves on every change of that user, all on a change
	// of every user: a store read that overlapped a change is not kept.
	all uint64
	ver map[string]uint64
}

// user returns a user's record (store.ErrNotFound for none).
func (g *Gateway) user(ctx context.Context, id string) (store.User, error) {
	if g.leaser != nil {
		return g.st.GetUser(ctx, id)
	}
	c := &g.users
	c.mu.Lock()
	u, ok := c.m[id]
	all, ver := c.all, c.ver[id]
	c.mu.Unlock()
	if ok {
		return u, nil
	}
	u, err := g.st.GetUser(ctx, id)
	if err == nil {
		c.mu.Lock()
		if _, ok := c.m[id]; !ok && c.all == all && c.ver[id] == ver {
			if c.m == nil {
				c.m = map[string]store.User{}
			}
			c.m[id] = u
		}
		c.mu.Unlock()
	}
	return u, err
}

// putUser writes a user through to the store.
func (g *Gateway) putUser(ctx context.Context, u store.User) error {
	g.forgetUser(u.ID)
	err := g.st.PutUser(ctx, u)
	g.forgetUser(u.ID)
	return err
}

// forgetUser drops a user's record, or all of them for "".
func (g *Gateway) forgetUser(id string) {
	c := &g.users
	c.mu.Lock()
	if id == "" {
		c.all++
		clear(c.m)
	} else {
		c.bump(id)
		delete(c.m, id)
	}
	c.mu.Unlock()
}

// bump moves a user's version (under mu).
func (c *userCache) bump(id string) {
	if c.ver == nil {
		c.ver = map[string]uint64{}
	}
	c.ver[id]++
}

// tookCounter notes that a request of the user's was stored with counter
// (the store raised the user's last counter to it if higher). A read of
// the user that began before is not kept: it may have missed it.
func (g *Gateway) tookCounter(id string, counter uint64) {
	c := &g.users
	c.mu.Lock()
	c.bump(id)
	if u, ok := c.m[id]; ok && counter > u.LastCounter {
		u.LastCounter = counter
		c.m[id] = u
	}
	c.mu.Unlock()
}

// certCache holds parsed registered certificates by their PEM: a user's
// certificate is checked on every submission and changes rarely.
var certCache struct {
	sync.Mutex
	m map[string]*x509.Certificate
}

// parseRegistered parses a registered certificate, once per PEM.
func parseRegistered(certPEM string) (*x509.Certificate, error) {
	certCache.Lock()
	c, ok := certCache.m[certPEM]
	certCache.Unlock()
	if ok {
		return c, nil
	}
	c, err := pki.ParseCert([]byte(certPEM))
	if err != nil {
		return nil, err
	}
	certCache.Lock()
	if certCache.m == nil || len(certCache.m) >= 1<<14 {
		certCache.m = map[string]*x509.Certificate{} // bounded: start again
	}
	certCache.m[certPEM] = c
	certCache.Unlock()
	return c, nil
}

// EnterUser completes User Entry (para 116, 281) for u on a running
// gateway: a User ID (EUI-64) in one role of the spec's (para 117), with
// the certificate its signatures are verified against. A User ID already
// entered keeps its role: entering it again replaces its party and
// certificate only.
func (g *Gateway) EnterUser(ctx context.Context, u store.User) error {
	if p := g.sp().Patterns["eui64"]; p != "" {
		re, err := regexp.Compile(p)
		if err != nil {
			return fmt.Errorf("the spec's eui64 pattern: %w", err)
		}
		if !re.MatchString(u.ID) {
			return fmt.Errorf("%w: %q is not a User ID (an EUI-64 such as 00-00-00-00-00-00-0A-09)", ErrInvalidUser, u.ID)
		}
	}
	if g.sp().Role(u.Role) == nil {
		return fmt.Errorf("%w: unknown role %q", ErrInvalidUser, u.Role)
	}
	if strings.TrimSpace(u.CertPEM) == "" {
		return ErrNoCertificate
	}
	if _, err := pki.ParseCert([]byte(u.CertPEM)); err != nil {
		return fmt.Errorf("%w: certificate: %v", ErrInvalidUser, err)
	}
	if old, err := g.st.GetUser(ctx, u.ID); err == nil && old.Role != u.Role {
		return fmt.Errorf("%w: %s is entered as %s; a User ID has one role (para 117)", ErrInvalidUser, u.ID, old.Role)
	} else if err == nil {
		// Its rights and its counter (replay protection) stay as they are.
		u.Suspended, u.LastCounter = old.Suspended, old.LastCounter
	}
	u.Entered = true
	return g.putUser(ctx, u)
}

// ErrInvalidUser is a User Entry refused for what it asked.
var ErrInvalidUser = errors.New("user entry refused")

// ErrNoCertificate is a User Entry refused for want of the user's
// certificate.
var ErrNoCertificate = fmt.Errorf("%w: no certificate", ErrInvalidUser)
