package sqlstore

import (
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"sync"
)

// maxNote bounds a note's length: PostgreSQL refuses a notification of
// 8000 bytes or more, and the schema's name and the origin go before the
// note.
const maxNote = 7000

// A note tells the other processes which users' streams an append went
// to, so that each wakes only their readers: woken all at once, every
// stream of every process read the database again for each append.
// It is "" (unnamed: every stream looks) or the users' IDs, each after a
// newline.

// noted gathers the users appended to until the notifier takes them.
type noted struct {
	mu    sync.Mutex
	users map[string]struct{}
}

// add records the users of deliveries encoded by deliveryArgs.
func (n *noted) add(args [][]any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.users == nil {
		n.users = map[string]struct{}{}
	}
	for _, a := range args {
		n.users[a[0].(string)] = struct{}{}
	}
}

// take returns the note naming the users added since the last take, and
// false if none was (a notification was sent for them already).
func (n *noted) take() (string, bool) {
	n.mu.Lock()
	users := n.users
	n.users = nil
	n.mu.Unlock()
	if len(users) == 0 {
		return "", false
	}
	size := 0
	for u := range users {
		size += 1 + len(u)
		if size > maxNote || strings.Contains(u, "\n") {
			return "", true
		}
	}
	var b strings.Builder
	b.Grow(size)
	for _, u := range slices.Sorted(maps.Keys(users)) {
		b.WriteByte('\n')
		b.WriteString(u)
	}
	return b.String(), true
}

// A store sends its notes under its origin, a random name of its own:
// "\n@" and the origin go before the note. The gateway over a store wakes
// its own readers after each of its appends, so a store's watcher passes
// over its own notes (each was another read of the database by every
// stream it woke).

// newOrigin returns a random origin.
func newOrigin() string {
	return rand.Text()[:16]
}

// withOrigin puts origin before note.
func withOrigin(origin, note string) string {
	return "\n@" + origin + note
}

// fromOrigin splits what withOrigin made; a note without one (from the
// listener, or an older process) has origin "".
func fromOrigin(msg string) (origin, note string) {
	rest, ok := strings.CutPrefix(msg, "\n@")
	if !ok {
		return "", msg
	}
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		return rest[:i], rest[i:]
	}
	return rest, ""
}

// noteUsers returns the users a note names, nil for an unnamed one.
func noteUsers(note string) []string {
	if len(note) < 2 || note[0] != '\n' {
		return nil
	}
	return strings.Split(note[1:], "\n")
}
