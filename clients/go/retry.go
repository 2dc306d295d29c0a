package tessera

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// RetryPolicy says how often a call that ends UNAVAILABLE (server down, connection lost, server
// shutting down) is tried again. No other code is retried: the others are answers, and repeating
// them changes nothing. Writes are safe to retry because every Write carries an idempotency key.
type RetryPolicy struct {
	// MaxAttempts counts the first try; 1 disables retries.
	MaxAttempts int
	// InitialBackoff is the wait before the second attempt, doubled after each, up to MaxBackoff; each
	// wait is jittered to 50–100% and never outlasts the call's deadline.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
}

// DefaultRetryPolicy: 4 attempts, waits from 100 ms doubling to at most 2 s.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}

// retryable tells whether a failed attempt may be tried again.
func retryable(code codes.Code) bool { return code == codes.Unavailable }

// retry runs attempt until it succeeds, fails with a code other than UNAVAILABLE, runs out of
// attempts or ctx ends.
func retry(ctx context.Context, policy RetryPolicy, attempt func() (metadata.MD, error)) error {
	backoff := policy.InitialBackoff
	for n := 1; ; n++ {
		trailer, err := attempt()
		if err == nil {
			return nil
		}
		var final noRetry
		if errors.As(err, &final) {
			return toError(final.err, trailer, n)
		}
		if !retryable(CodeOf(err)) || n >= policy.MaxAttempts || !sleep(ctx, jitter(backoff)) {
			return toError(err, trailer, n)
		}
		backoff = min(backoff*2, policy.MaxBackoff)
	}
}

// retryUnary is the client's unary interceptor: retries on UNAVAILABLE and turns failures into *Error.
func retryUnary(policy RetryPolicy) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return retry(ctx, policy, func() (metadata.MD, error) {
			var trailer metadata.MD
			err := invoker(ctx, method, req, reply, cc, append(opts, grpc.Trailer(&trailer))...)
			return trailer, err
		})
	}
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d unless ctx ends first or its deadline falls within d; it tells whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return false
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// noRetry marks a failure that must not be retried whatever its code (a stream that already
// delivered part of its answer).
type noRetry struct{ err error }

func (e noRetry) Error() string { return e.err.Error() }
func (e noRetry) Unwrap() error { return e.err }
