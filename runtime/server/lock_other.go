//go:build !unix

package server

import "os"

// lockFile is a no-op where flock is not at hand.
func lockFile(string) (*os.File, error) { return nil, nil }
