package postgres_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestAlertQuarantine(t *testing.T) {
	storetest.RunAlertQuarantine(t, schemaOpener(t))
}
