package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
)

// TestChargesRefusals: a party the hub records do not know is an error
// naming it and the known ones, whether the records are a world file or a
// gateway's store; a world file and a store together are refused, not one
// of them silently ignored.
func TestChargesRefusals(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	raw, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "dccgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	const alpha = "00-00-00-00-00-00-0A-01"
	if err := raw.PutUser(ctx, store.User{ID: alpha, Role: "EIS", Entered: true}); err != nil {
		t.Fatal(err)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	month := []string{"charges", "--month", "2026-03", "--at", "2026-04-01T00:00:00Z"}
	tests := []struct {
		note   string
		args   []string
		want   int
		errHas []string
	}{
		{note: "a party of the world", args: []string{"--input", exampleWorld, "--party", "SUPB"}, want: exitOK},
		{note: "a party the world does not know", args: []string{"--input", exampleWorld, "--party", "NOPE"}, want: exitUsage,
			errHas: []string{`unknown party "NOPE"`, "SUPA", "SUPB"}},
		{note: "a user of the store", args: []string{"--data", dir, "--party", alpha}, want: exitOK},
		{note: "a party the store does not know", args: []string{"--data", dir, "--party", "NOPE"}, want: exitUsage,
			errHas: []string{`unknown party "NOPE"`, alpha}},
		{note: "a world and a data directory", args: []string{"--input", exampleWorld, "--data", dir}, want: exitUsage,
			errHas: []string{"--input", "--data"}},
		{note: "a world and a store", args: []string{"--input", exampleWorld, "--store", "sqlite://" + filepath.Join(dir, "dccgate.db")}, want: exitUsage,
			errHas: []string{"--input", "--store"}},
	}
	for _, tc := range tests {
		t.Run(tc.note, func(t *testing.T) {
			code, _, errs := runCmd(t, "", append(append([]string(nil), month...), tc.args...)...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d: %s", code, tc.want, errs)
			}
			for _, s := range tc.errHas {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr does not say %q: %s", s, errs)
				}
			}
		})
	}
}
