package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Opener opens a backend from a data source string. It receives the string
// given to Open unchanged (scheme included), so a backend can hand a URL
// such as postgres://... to its driver as it is.
type Opener func(ctx context.Context, dsn string) (Store, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Opener{}
)

// Register makes a backend available to Open under a URL scheme (as
// cerbos' storage.RegisterDriver does). Backends call it from init, so a
// binary selects the backends it links with blank imports:
//
//	import (
//		_ "github.com/dccgate/dccgate/runtime/store/postgres"
//		_ "github.com/dccgate/dccgate/runtime/store/sqlite"
//	)
//
// A second registration under the same name replaces the first.
func Register(name string, open Opener) {
	registryMu.Lock()
	defer registryMu.Unlock()
	registry[strings.ToLower(name)] = open
}

// Backends lists the registered scheme names, sorted.
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ErrUnknownBackend is returned by Open for a scheme nobody registered.
var ErrUnknownBackend = errors.New("store: unknown backend")

// Open opens the backend chosen by the scheme of url:
//
//	sqlite:///var/lib/dccgate/gateway.db   sqlite, absolute path
//	sqlite://gateway.db, sqlite:gateway.db sqlite, relative path
//	sqlite::memory:, :memory:              sqlite, in memory (one connection)
//	/var/lib/dccgate/gateway.db            sqlite (a string without a scheme is a path)
//	postgres://user@host:5432/db?sslmode=disable
//	postgresql://...                       postgres
//
// The backend's package must be linked in (see Register).
func Open(ctx context.Context, url string) (Store, error) {
	scheme := Scheme(url)
	registryMu.RLock()
	open, ok := registry[scheme]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q (registered: %s; import the backend's package)",
			ErrUnknownBackend, scheme, strings.Join(Backends(), ", "))
	}
	return open(ctx, url)
}

// Scheme returns the backend name Open chooses for url: the part before
// "://" (lower case), "sqlite" for "sqlite:..." and for anything without a
// scheme (a file path, ":memory:").
func Scheme(url string) string {
	if i := strings.Index(url, "://"); i > 0 && validScheme(url[:i]) {
		return strings.ToLower(url[:i])
	}
	return "sqlite"
}

// validScheme reports whether s is a URL scheme (RFC 3986: a letter, then
// letters, digits, "+", "-" or "."), so that a path such as "./a://b" is
// not mistaken for one.
func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// Versioner is implemented by backends whose schema is versioned by
// migrations (both SQL backends). A readiness check confirms the schema is
// current with CheckVersion.
type Versioner interface {
	// Version returns the migration version applied to the database.
	Version(ctx context.Context) (int64, error)
	// TargetVersion returns the latest migration this build carries.
	TargetVersion() int64
}

// ErrSchemaBehind is returned by CheckVersion when migrations are pending.
var ErrSchemaBehind = errors.New("store: database schema is behind this build")

// CheckVersion returns the database's migration version and an error if
// it is behind the version s's build expects (or cannot be read). Stores
// without migrations (not a Versioner) report version 0 and no error.
func CheckVersion(ctx context.Context, s Store) (int64, error) {
	v, ok := s.(Versioner)
	if !ok {
		return 0, nil
	}
	have, err := v.Version(ctx)
	if err != nil {
		return have, err
	}
	if want := v.TargetVersion(); have < want {
		return have, fmt.Errorf("%w: version %d, want %d", ErrSchemaBehind, have, want)
	}
	return have, nil
}
