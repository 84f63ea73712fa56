package postgres_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestDUISOutbox(t *testing.T) {
	storetest.RunDUISOutbox(t, schemaOpener(t))
}
