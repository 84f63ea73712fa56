//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

// mapShared is not at hand here: the tokens are read and written with
// pread and pwrite.
func mapShared(*os.File, int) ([]byte, error) { return nil, errors.ErrUnsupported }

func unmap([]byte) error { return nil }
