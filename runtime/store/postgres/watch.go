package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel is the channel appenders of deliveries notify at commit.
const notifyChannel = "dccgate_deliveries"

// watch listens on notifyChannel on a connection of its own and calls wake
// with the note of each notification about this store's schema (what
// follows the schema's name), until ctx ends. A lost connection is made
// again (after a pause that doubles up to 5 seconds), and wake("") is
// called once it listens again: notifications sent meanwhile are lost, so
// the readers look for themselves.
func watch(ctx context.Context, dsn string, wake func(note string)) error {
	pause := 100 * time.Millisecond
	for {
		err := listen(ctx, dsn, wake)
		if ctx.Err() != nil {
			return nil
		}
		_ = err // the readers' poll covers the gap; the next attempt may work
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		pause = min(2*pause, 5*time.Second)
	}
}

func listen(ctx context.Context, dsn string, wake func(note string)) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	wake("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		// The schema's name, then a note that starts with a newline or is
		// empty: a schema whose name begins with this one's is another.
		if note, ok := strings.CutPrefix(n.Payload, schema); ok && (note == "" || note[0] == '\n') {
			wake(note)
		}
	}
}
