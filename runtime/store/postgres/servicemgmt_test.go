package postgres_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestServiceManagement(t *testing.T) {
	storetest.RunServiceManagement(t, schemaOpener(t))
}
