package postgres_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store"
	"github.com/dccgate/dccgate/runtime/store/postgres"
	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestDUISOutbox(t *testing.T) {
	base := baseDSN(t)
	storetest.RunDUISOutbox(t, func(t *testing.T) store.Store {
		t.Helper()
		s, err := postgres.Open(t.Context(), newSchema(t, base))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
