package sqlite_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestAlertQuarantine(t *testing.T) {
	storetest.RunAlertQuarantine(t, opener())
}
