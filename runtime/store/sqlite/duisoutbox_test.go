package sqlite_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestDUISOutbox(t *testing.T) {
	storetest.RunDUISOutbox(t, opener())
}
