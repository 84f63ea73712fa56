package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

var (
	transientMu sync.RWMutex
	transients  []func(error) bool
)

// RegisterTransient adds a backend's test for its errors that pass with
// time (PostgreSQL's lost connection, its server out of connections), as
// Register adds a backend: from init.
func RegisterTransient(is func(error) bool) {
	transientMu.Lock()
	defer transientMu.Unlock()
	transients = append(transients, is)
}

// Transient reports whether err is a failure of the store's service that
// may pass if the same work is tried again (a connection lost or refused,
// the database restarting or out of connections), not a refusal of the
// work itself. The gateway tries a request's end again on such an error
// rather than leave it unfinished, and the API answers it Unavailable,
// which clients retry.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &ne):
		return true
	}
	transientMu.RLock()
	defer transientMu.RUnlock()
	for _, is := range transients {
		if is(err) {
			return true
		}
	}
	return false
}
