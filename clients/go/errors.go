package tessera

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// problemsTrailer is the binary trailer in which the server sends the problem list of a rejected
// request (JSON), when there is more than one problem; the message names the first.
const problemsTrailer = "tessera-problems-bin"

// Problem is one thing wrong with a request, as the server reports it: where, and which rule.
type Problem struct {
	// File or request part, e.g. "features.yaml"; often empty.
	File string `json:"file,omitempty"`
	// Path inside it, e.g. "row 17, column loyalty_score".
	Path string `json:"path"`
	// The rule, e.g. "7.5 is above max 5".
	Message string `json:"message"`
}

// Error is what every call of a Client returns on failure: the gRPC status code, the server's
// message (which names the view, row, column and rule) and its problem list.
type Error struct {
	Code    codes.Code
	Message string
	// Every problem the server listed; empty when the message names the only one.
	Problems []Problem
	// Attempts the call took (more than 1 after retries of UNAVAILABLE).
	Attempts int
	cause    error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tessera: %s: %s", e.Code, e.Message)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		if p.File != "" {
			b.WriteString(p.File + ": ")
		}
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Unwrap returns the gRPC status error (or the transport error) behind e.
func (e *Error) Unwrap() error { return e.cause }

// GRPCStatus lets status.FromError and status.Code see e's code and message.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// CodeOf is err's gRPC code: that of a *Error, codes.OK for nil, codes.Unknown otherwise.
func CodeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return status.Code(err)
}

// toError turns a failed call's error and trailers into an *Error.
func toError(err error, trailer metadata.MD, attempts int) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	st, _ := status.FromError(err)
	e := &Error{Code: st.Code(), Message: st.Message(), Attempts: attempts, cause: err}
	for _, raw := range trailer.Get(problemsTrailer) {
		var problems []Problem
		if json.Unmarshal([]byte(raw), &problems) == nil {
			e.Problems = append(e.Problems, problems...)
		}
	}
	return e
}
