package sqlite

import (
	"syscall"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// logSync syncs the log's data with fdatasync(2), as SQLite's unix VFS
// does where it is built with HAVE_FDATASYNC (its usual Linux builds).
// modernc's build is not: each sync tried fcntl(F_FULLFSYNC), a macOS
// command Linux refuses, then fsync(2). The log is written over in place
// at the same size from one restart to the next, so its data is all a
// commit needs durable; fdatasync still writes the file's size when that
// changed (a longer log). fsync also wrote its times, which is a commit of
// the file system's journal, and in ext4's ordered mode that waits for the
// data of every file the journal's transaction holds blocks of: the
// checkpointer's copies into a growing database file. At 2,000 requests a
// second, commits stalled up to 400 to 600 ms behind a checkpoint's
// database sync; with fdatasync, up to 160 ms.
//
// The first sync of a log just made also syncs its directory (the VFS's
// DIRSYNC flag): that one is the platform's.
func logSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	f := (*sqlite3.TunixFile)(cptr(pFile))
	if f.FctrlFlags&sqlite3.UNIXFILE_DIRSYNC != 0 {
		return base.sync(tls, pFile, flags)
	}
	for {
		switch err := dataSync(int(f.Fh)); {
		case err == syscall.EINTR:
			continue
		case err != nil:
			if errno, ok := err.(syscall.Errno); ok {
				f.FlastErrno = int32(errno)
			}
			return sqlite3.SQLITE_IOERR_FSYNC
		}
		return sqlite3.SQLITE_OK
	}
}

// dataSync is fdatasync(2); a test counts or fails it.
var dataSync = syscall.Fdatasync
