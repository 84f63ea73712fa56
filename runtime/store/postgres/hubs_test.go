package postgres_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestHubs(t *testing.T) {
	storetest.RunHubs(t, schemaOpener(t))
}
