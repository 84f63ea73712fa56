package server

import (
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/dccgate/dccgate/runtime/api"
)

// The JSON APIs beside Connect (service management, Communications Hubs)
// share their plumbing here; each maps its own errors to a status.

// writeJSON writes v, or err as {"error": ...} with the status statusOf
// gives it (500 when it gives 0). Fields are named in snake_case, as in
// the requests (TestJSONAnswersNameFieldsInSnakeCase).
func writeJSON(w http.ResponseWriter, v any, err error, statusOf func(error) int) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		status := statusOf(err)
		if status == 0 {
			status = http.StatusInternalServerError
		}
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []struct{}{} // a list with nothing in it is [], not null
	}
	_ = json.NewEncoder(w).Encode(v)
}

// asUser serves h with the DCC User the client certificate names, and
// answers 401 to a caller that is not one.
func asUser(h func(w http.ResponseWriter, r *http.Request, caller string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := api.CallerFrom(r.Context())
		if !ok || c.UserID == "" {
			http.Error(w, `{"error":"a DCC User's client certificate is required"}`, http.StatusUnauthorized)
			return
		}
		h(w, r, c.UserID)
	}
}
