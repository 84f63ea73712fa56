package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite appends a commit's pages to the write-ahead log one frame at a
// time, each in two writes (the frame's 24-byte header, then the page), and
// syncs the log once at the end. Every write is a system call, and system
// calls are what a commit spends most on where they are dear (a virtual
// machine): at 1,000 requests a second in process a request cost some 26
// pwrite calls, most of them frames. walVFS is the platform's own VFS but for the log's
// writes: they are gathered, while each continues the one before, and
// written in one call before anything that needs them on the file (a sync,
// a read, a truncation, a size, a file control, the close). A commit's
// frames are so one write, then the sync SQLite asks for.
//
// What a crash loses is unchanged: frames are part of a commit only once
// synced, and the sync writes them first. Other connections, in this
// process or another, read a frame only once the commit that holds it has
// updated the log's index, after its sync. The file's format and locks are
// the platform VFS's, so any SQLite may share the file.
//
// That holds on three conditions, which the writer's DSN sets and Open
// checks (checkWriter):
//   - synchronous FULL: every commit syncs the log, so nothing gathered is
//     published (the log's index updated) before it is written;
//   - cache_spill off: SQLite writes frames only at a commit, never a
//     transaction's pages to make room in its cache. Frames spilled were
//     gathered and not synced; were the transaction rolled back, they would
//     be written later, over frames another writer had committed since at
//     the same offsets. Without spill a transaction's pages stay in memory
//     to its commit: a bulk load's 50,000 rows are some MiB; a migration
//     or purge over a large file holds as many pages as it changes;
//   - the file overwrites power-safe (SQLITE_IOCAP_POWERSAFE_OVERWRITE, the
//     unix VFS's default): otherwise SQLite pads a commit to a sector and
//     syncs in the middle of its last frame, the rest left gathered while
//     the commit is published. The log of a database file without it is
//     not gathered (walOpen).
//
// A write that fails drops what it was to write. Made for a write or a
// sync, its error fails the commit at once (SQLite's walFrames returns
// it); made for a read or the like, which SQLite may go on after, it fails
// the next sync, which then writes nothing: no commit missing a frame
// reaches the file whole. The close drops what is gathered (never
// committed, as a commit's sync has written it).
const walVFSName = "dccgate-wal"

const (
	// walChunk is the most one write may carry: the unix VFS masks a
	// write's length with 0x1ffff, and fails one larger (SQLITE_FULL).
	walChunk = 0x1ffff
	// walGather bounds the bytes gathered (a bulk load's commit is
	// larger): past it they are written and gathering starts again.
	walGather = 8 * walChunk
)

var (
	walVFSOnce sync.Once
	walVFSErr  error
	// walVFS is the registered VFS, in Go's data (never moved).
	walVFS sqlite3.Tsqlite3_vfs
	// baseVFS is the platform's VFS (*sqlite3_vfs) and baseOpen its xOpen.
	baseVFS  uintptr
	baseOpen func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32

	// The methods of a log file: the platform's (baseMethods, the table
	// its xOpen set first, and base, those walVFS calls, typed), with
	// those that gather or flush in walMethods.
	walMethodsMu    sync.Mutex
	baseMethods     *sqlite3.Tsqlite3_io_methods
	base            ioMethods
	walMethodsTable sqlite3.Tsqlite3_io_methods
	walMethods      uintptr // &walMethodsTable, once made

	walFilesMu sync.Mutex
	walFiles   = map[uintptr]*walFile{} // by the sqlite3_file's address
	// notPowersafe holds the database files opened without power-safe
	// overwrite, whose logs are not gathered.
	notPowersafe = map[string]bool{}

	// walCalls and walGathered count the log writes made and the ones
	// gathered into them (tests).
	walCalls, walGathered atomic.Int64
)

// ioMethods are the methods of sqlite3_io_methods walVFS replaces, as Go
// functions.
type ioMethods struct {
	close       func(tls *libc.TLS, pFile uintptr) int32
	read, write func(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32
	truncate    func(tls *libc.TLS, pFile uintptr, size int64) int32
	sync        func(tls *libc.TLS, pFile uintptr, flags int32) int32
	fileSize    func(tls *libc.TLS, pFile, pSize uintptr) int32
	fileControl func(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32
}

// get reads m's methods from the C table t; set writes them there.
func (m *ioMethods) get(t *sqlite3.Tsqlite3_io_methods) {
	getFn(&m.close, &t.FxClose)
	getFn(&m.read, &t.FxRead)
	getFn(&m.write, &t.FxWrite)
	getFn(&m.truncate, &t.FxTruncate)
	getFn(&m.sync, &t.FxSync)
	getFn(&m.fileSize, &t.FxFileSize)
	getFn(&m.fileControl, &t.FxFileControl)
}

func (m *ioMethods) set(t *sqlite3.Tsqlite3_io_methods) {
	setFn(&t.FxClose, m.close)
	setFn(&t.FxRead, m.read)
	setFn(&t.FxWrite, m.write)
	setFn(&t.FxTruncate, m.truncate)
	setFn(&t.FxSync, m.sync)
	setFn(&t.FxFileSize, m.fileSize)
	setFn(&t.FxFileControl, m.fileControl)
}

type walFile struct {
	buf []byte
	off int64 // the file offset of buf[0]
	// failed is the error of a write made for a read, a truncation, the
	// size or a file control since the last sync (a caller SQLite may go
	// on after): the next sync fails with it, writing nothing.
	failed int32
}

// registerWALVFS registers walVFS, once per process.
func registerWALVFS() error {
	walVFSOnce.Do(func() {
		tls := libc.NewTLS()
		defer tls.Close()
		base := sqlite3.Xsqlite3_vfs_find(tls, 0)
		if base == 0 {
			walVFSErr = errors.New("store: sqlite: no default VFS")
			return
		}
		baseVFS = base
		bv := (*sqlite3.Tsqlite3_vfs)(cptr(base))
		baseOpen = fn[func(*libc.TLS, uintptr, uintptr, uintptr, int32, uintptr) int32](&bv.FxOpen)

		name, err := libc.CString(walVFSName)
		if err != nil {
			walVFSErr = errors.New("store: sqlite: out of memory registering the VFS")
			return
		}
		v := &walVFS
		*v = *bv
		v.FpNext = 0
		v.FzName = name
		setFn(&v.FxOpen, walOpen)
		if rc := sqlite3.Xsqlite3_vfs_register(tls, uintptr(unsafe.Pointer(v)), 0); rc != sqlite3.SQLITE_OK {
			walVFSErr = errors.New("store: sqlite: registering the VFS failed")
		}
	})
	return walVFSErr
}

// walOpen is the VFS's xOpen: the platform's, then, for a log file, the
// gathering methods.
func walOpen(tls *libc.TLS, pVfs, zName, pFile uintptr, flags int32, pOutFlags uintptr) int32 {
	rc := baseOpen(tls, baseVFS, zName, pFile, flags, pOutFlags)
	if rc != sqlite3.SQLITE_OK || zName == 0 {
		return rc
	}
	f := (*sqlite3.Tsqlite3_file)(cptr(pFile))
	switch {
	case flags&sqlite3.SQLITE_OPEN_MAIN_DB != 0:
		// SQLite pads a commit or not as the database file overwrites.
		if !powersafe(tls, pFile, f.FpMethods) {
			walFilesMu.Lock()
			notPowersafe[libc.GoString(zName)] = true
			walFilesMu.Unlock()
		}
		return rc
	case flags&sqlite3.SQLITE_OPEN_WAL == 0:
		return rc
	}
	walFilesMu.Lock()
	db, _ := strings.CutSuffix(libc.GoString(zName), "-wal")
	padded := notPowersafe[db]
	walFilesMu.Unlock()
	if padded {
		return rc
	}
	if m := walMethodsFor(f.FpMethods); m != 0 {
		walFilesMu.Lock()
		walFiles[pFile] = &walFile{}
		walFilesMu.Unlock()
		f.FpMethods = m
	}
	return rc
}

// powersafe reports whether the file, opened with methods, overwrites
// power-safe.
func powersafe(tls *libc.TLS, pFile, methods uintptr) bool {
	m := (*sqlite3.Tsqlite3_io_methods)(cptr(methods))
	dc := fn[func(*libc.TLS, uintptr) int32](&m.FxDeviceCharacteristics)(tls, pFile)
	return dc&sqlite3.SQLITE_IOCAP_POWERSAFE_OVERWRITE != 0
}

// walMethodsFor returns the gathering methods over the platform's table
// methods, made at the first log opened; 0 (the file keeps base) should the
// platform ever give a log another table.
func walMethodsFor(methods uintptr) uintptr {
	walMethodsMu.Lock()
	defer walMethodsMu.Unlock()
	bm := (*sqlite3.Tsqlite3_io_methods)(cptr(methods))
	if baseMethods != nil {
		if bm != baseMethods {
			return 0
		}
		return walMethods
	}
	m := &walMethodsTable
	*m = *bm
	base.get(bm)
	(&ioMethods{close: walClose, read: walRead, write: walWrite, truncate: walTruncate,
		sync: walSync, fileSize: walFileSize, fileControl: walFileControl}).set(m)
	baseMethods, walMethods = bm, uintptr(unsafe.Pointer(m))
	return walMethods
}

// cptr is the address p of C memory (SQLite's and libc's, outside Go's
// heap) as a pointer.
func cptr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

// fn reads the C function pointer at p as a Go function of type F, and
// setFn writes f there (a top-level function: its value is static, never
// moved or collected).
func fn[F any](p *uintptr) F { return *(*F)(unsafe.Pointer(p)) }

func setFn[F any](p *uintptr, f F) { *(*F)(unsafe.Pointer(p)) = f }

// getFn reads the C function pointer at p into f.
func getFn[F any](f *F, p *uintptr) { *f = fn[F](p) }

func walFileOf(pFile uintptr) *walFile {
	walFilesMu.Lock()
	defer walFilesMu.Unlock()
	return walFiles[pFile]
}

// flush writes what is gathered. A failure drops it (the frames of a
// commit that cannot now be synced: see failed).
func (f *walFile) flush(tls *libc.TLS, pFile uintptr) int32 {
	if len(f.buf) == 0 {
		return sqlite3.SQLITE_OK
	}
	rc := int32(sqlite3.SQLITE_OK)
	if walFault != nil {
		rc = walFault()
	}
	for i := 0; i < len(f.buf) && rc == sqlite3.SQLITE_OK; i += walChunk {
		n := min(walChunk, len(f.buf)-i)
		rc = base.write(tls, pFile, uintptr(unsafe.Pointer(&f.buf[i])), int32(n), f.off+int64(i))
		walCalls.Add(1)
	}
	f.buf = f.buf[:0]
	return rc
}

// flushFor flushes for a caller SQLite may go on after an error from:
// a failure is kept for the next sync.
func (f *walFile) flushFor(tls *libc.TLS, pFile uintptr) int32 {
	rc := f.flush(tls, pFile)
	if rc != sqlite3.SQLITE_OK && f.failed == sqlite3.SQLITE_OK {
		f.failed = rc
	}
	return rc
}

// walFault, set by a test, fails the next writes with its code.
var walFault func() int32

func walWrite(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	f := walFileOf(pFile)
	if len(f.buf) > 0 && (iOfst != f.off+int64(len(f.buf)) || len(f.buf)+int(iAmt) > walGather) {
		if rc := f.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
			return rc
		}
	}
	if len(f.buf) == 0 {
		f.off = iOfst
	} else {
		walGathered.Add(1)
	}
	f.buf = append(f.buf, (*libc.RawMem)(cptr(zBuf))[:iAmt:iAmt]...)
	return sqlite3.SQLITE_OK
}

func walRead(tls *libc.TLS, pFile, zBuf uintptr, iAmt int32, iOfst int64) int32 {
	if rc := walFileOf(pFile).flushFor(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return base.read(tls, pFile, zBuf, iAmt, iOfst)
}

func walTruncate(tls *libc.TLS, pFile uintptr, size int64) int32 {
	if rc := walFileOf(pFile).flushFor(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return base.truncate(tls, pFile, size)
}

func walSync(tls *libc.TLS, pFile uintptr, flags int32) int32 {
	f := walFileOf(pFile)
	if rc := f.failed; rc != sqlite3.SQLITE_OK {
		// A frame of this commit was lost: write none of it, so no
		// commit missing a frame is on the file whole.
		f.buf, f.failed = f.buf[:0], sqlite3.SQLITE_OK
		return rc
	}
	if rc := f.flush(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return base.sync(tls, pFile, flags)
}

func walFileSize(tls *libc.TLS, pFile, pSize uintptr) int32 {
	if rc := walFileOf(pFile).flushFor(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return base.fileSize(tls, pFile, pSize)
}

func walFileControl(tls *libc.TLS, pFile uintptr, op int32, pArg uintptr) int32 {
	if rc := walFileOf(pFile).flushFor(tls, pFile); rc != sqlite3.SQLITE_OK {
		return rc
	}
	return base.fileControl(tls, pFile, op, pArg)
}

// walClose drops what is gathered (frames no sync wrote: a commit that
// failed) and closes the file.
func walClose(tls *libc.TLS, pFile uintptr) int32 {
	walFilesMu.Lock()
	delete(walFiles, pFile)
	walFilesMu.Unlock()
	return base.close(tls, pFile)
}

// checkWriter checks the writer's connection has the settings walVFS
// rests on.
func checkWriter(ctx context.Context, db *sql.DB) error {
	var sync, spill int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA cache_spill").Scan(&spill); err != nil {
		return err
	}
	if sync < 2 || spill != 0 {
		return fmt.Errorf("the writer has synchronous %d and cache_spill %d: %s needs synchronous FULL (2) or more and cache_spill 0", sync, spill, walVFSName)
	}
	return nil
}
