package tessera

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestAPIKeyNeedsTLS(t *testing.T) {
	_, err := Dial(context.Background(), "127.0.0.1:6566", WithAPIKey("tsk_x_y"))
	if err == nil || !strings.Contains(err.Error(), "needs TLS") {
		t.Fatalf("Dial with an API key and no TLS: got %v, want an error saying it needs TLS", err)
	}
}

func TestInsecureAPIKeyOnlyToLoopback(t *testing.T) {
	_, err := Dial(context.Background(), "10.0.0.5:6566", WithAPIKey("tsk_x_y"), WithInsecure())
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("WithInsecure to 10.0.0.5: got %v, want a refusal naming loopback", err)
	}
	c, err := Dial(context.Background(), "127.0.0.1:6566", WithAPIKey("tsk_x_y"), WithInsecure())
	if err != nil {
		t.Fatalf("WithInsecure to 127.0.0.1: %v", err)
	}
	_ = c.Close()
}

func TestPlaintextWithoutKey(t *testing.T) {
	c, err := Dial(context.Background(), "10.0.0.5:6566")
	if err != nil {
		t.Fatalf("plaintext without a key: %v", err)
	}
	_ = c.Close()
}

func TestMTLSNeedsBothFiles(t *testing.T) {
	_, err := Dial(context.Background(), "127.0.0.1:6566", WithTLS(TLSConfig{CertFile: "client.pem"}))
	if err == nil || !strings.Contains(err.Error(), "KeyFile") {
		t.Fatalf("a client certificate without its key: got %v", err)
	}
}

func TestIsLoopbackTarget(t *testing.T) {
	for target, want := range map[string]bool{
		"127.0.0.1:6566":                  true,
		"localhost:6566":                  true,
		"[::1]:6566":                      true,
		"dns:///localhost:6566":           true,
		"ipv4:127.0.0.1:1,127.0.0.2:2":    true,
		"ipv4:127.0.0.1:1,10.0.0.1:2":     false,
		"10.0.0.1:6566":                   false,
		"dns:///tessera.ns.svc:6566":      false,
		"dns://8.8.8.8/localhost:6566":    false,
		"tessera.example.com:443":         false,
		"unix:///var/run/tessera.sock":    true,
		"passthrough:///127.0.0.1:6566":   true,
		"passthrough:///192.168.0.1:6566": false,
	} {
		if got := isLoopbackTarget(target); got != want {
			t.Errorf("isLoopbackTarget(%q) = %v, want %v", target, got, want)
		}
	}
}

func TestUnavailableIsRetriedUpToThePolicy(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	_ = listener.Close() // nothing listens there now: every attempt ends UNAVAILABLE
	c, err := Dial(context.Background(), address,
		WithRetry(RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.GetOnlineFeatures(context.Background(), []string{"v:f"}, map[string]Column{"id": Int64s(1)})
	var e *Error
	if !errors.As(err, &e) || e.Code != codes.Unavailable || e.Attempts != 3 {
		t.Fatalf("got %#v, want UNAVAILABLE after 3 attempts", err)
	}
}

func TestOnlyUnavailableIsRetryable(t *testing.T) {
	for code := codes.OK; code <= codes.Unauthenticated; code++ {
		if retryable(code) != (code == codes.Unavailable) {
			t.Errorf("retryable(%v) = %v", code, retryable(code))
		}
	}
}

func TestStaticTargets(t *testing.T) {
	if got, opts, authority := staticTarget("127.0.0.1:6566"); got != "127.0.0.1:6566" || opts != nil || authority != "" {
		t.Errorf("host:port became %q (authority %q)", got, authority)
	}
	got, opts, authority := staticTarget("ipv4:10.0.0.1:1,10.0.0.2:2")
	if got != staticScheme+":///10.0.0.1:1,10.0.0.2:2" || len(opts) != 1 || authority != "10.0.0.1" {
		t.Errorf("ipv4 list became %q with %d options, authority %q", got, len(opts), authority)
	}
}
