package sqlite

import "modernc.org/sqlite"

// useFdatasync makes SQLite sync its files with fdatasync(2) instead of
// fsync(2), process-wide, as SQLite's own builds do wherever their
// configure script finds fdatasync (every Linux distribution's). modernc's
// build, transpiled without that check, keeps the source's default, fsync,
// and offers the switch. fdatasync writes a file's data and what is needed
// to read it back, its size included, but not its times. On ext4, writing
// the times is a commit of the file system's journal, and in ext4's ordered
// mode that commit waits for the data of every file with new blocks in the
// journal's transaction. Here that meant the checkpointer's copies into the
// growing database file, so the writer's commits waited behind them: at
// 2,000 requests a second in process, commits stalled for 400 to 600 ms
// behind a checkpoint's sync. The WAL is written over in place, at the same
// size, from one restart to the next, so a commit's sync now writes its
// frames alone. Where the platform has no fdatasync (macOS, Windows),
// SQLite syncs as before.
func useFdatasync() { _, _ = sqlite.Fdatasync(true) }
