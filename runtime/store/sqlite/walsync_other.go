//go:build !linux

package sqlite

import "modernc.org/libc"

// logSync is the platform's sync (walsync_linux.go says why Linux's is
// not).
func logSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	return base.sync(tls, pFile, flags)
}
