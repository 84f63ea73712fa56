//go:build unix

package sqlite

import (
	"os"
	"syscall"
)

// mapShared maps the first n bytes of f, shared with every process that
// maps or writes the file.
func mapShared(f *os.File, n int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

func unmap(b []byte) error { return syscall.Munmap(b) }
