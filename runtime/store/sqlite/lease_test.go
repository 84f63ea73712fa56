package sqlite_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestLeases(t *testing.T) {
	storetest.RunLeases(t, opener())
}
