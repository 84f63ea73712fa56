package spec

import "fmt"

// Refusal is a refusal by a rule of the source: a stable code and the
// clause behind it (the service management's incidents, service desk and
// maintenance refuse with it).
type Refusal struct {
	Code    string
	Clause  string
	Message string
}

func (e *Refusal) Error() string { return fmt.Sprintf("%s (%s): %s", e.Code, e.Clause, e.Message) }

// Is matches on the code.
func (e *Refusal) Is(target error) bool {
	t, ok := target.(*Refusal)
	return ok && t.Code == e.Code
}

// Coded is a refusal with a stable code and no clause of its own: the
// Error of the hubs and reports services.
type Coded struct {
	Code    string
	Message string
}

func (e *Coded) Error() string { return e.Code + ": " + e.Message }

// Is matches on the code.
func (e *Coded) Is(target error) bool {
	t, ok := target.(*Coded)
	return ok && t.Code == e.Code
}
