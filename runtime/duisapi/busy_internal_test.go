package duisapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dccgate/dccgate/client"
	"github.com/dccgate/dccgate/runtime/gateway"
)

// TestBusyRefusal: a DUIS request that finds the gateway full is refused
// with 503 (try again) and GATEWAY_BUSY, its clause in the header and the
// body.
func TestBusyRefusal(t *testing.T) {
	ref := gatewayErr(fmt.Errorf("submit: %w", &gateway.BusyError{InFlight: 8, Limit: 8, Waited: time.Second}))
	rec := httptest.NewRecorder()
	writeRefusal(rec, &Server{}, *ref)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
	if r, c := rec.Header().Get(client.ReasonHeader), rec.Header().Get(client.ClauseHeader); r != "GATEWAY_BUSY" || c != "para 273" {
		t.Errorf("headers %q %q, want GATEWAY_BUSY, para 273", r, c)
	}
	if body := rec.Body.String(); !strings.Contains(body, `reason="GATEWAY_BUSY"`) || !strings.Contains(body, `code="busy"`) {
		t.Errorf("body %s", body)
	}
}
