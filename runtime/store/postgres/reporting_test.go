package postgres_test

import (
	"testing"

	"github.com/dccgate/dccgate/runtime/store/storetest"
)

func TestReporting(t *testing.T) {
	storetest.RunReporting(t, schemaOpener(t))
}
