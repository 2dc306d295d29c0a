package tessera

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/tessera-fs/tessera/clients/go/tesserapb"
)

const (
	defaultTimeout         = 30 * time.Second
	defaultMaxMessageBytes = 64 << 20
	roundRobinConfig       = `{"loadBalancingConfig":[{"round_robin":{}}]}`
)

// TLSConfig names PEM files for a TLS connection. The zero value trusts the system's roots.
type TLSConfig struct {
	// CAFile holds the CA certificate(s) that signed the server's certificate; the system roots when empty.
	CAFile string
	// CertFile and KeyFile are the client's certificate and key, for servers that require mTLS.
	CertFile string
	KeyFile  string
	// ServerName overrides the name checked in the server's certificate (default: the target's host).
	ServerName string
}

// Option configures Dial.
type Option func(*settings)

type settings struct {
	apiKey          string
	tls             *TLSConfig
	tlsConfig       *tls.Config
	insecure        bool
	roundRobin      bool
	timeout         time.Duration
	retry           RetryPolicy
	maxMessageBytes int
	dialOptions     []grpc.DialOption
}

// WithAPIKey sends key as `authorization: Bearer <key>` on every call. It needs TLS (WithTLS),
// or WithInsecure to a loopback address.
func WithAPIKey(key string) Option { return func(s *settings) { s.apiKey = key } }

// WithTLS connects over TLS with the given PEM files (mTLS when CertFile and KeyFile are set).
func WithTLS(config TLSConfig) Option { return func(s *settings) { s.tls = &config } }

// WithTLSConfig connects over TLS with a crypto/tls configuration built by the caller.
func WithTLSConfig(config *tls.Config) Option { return func(s *settings) { s.tlsConfig = config } }

// WithInsecure allows an API key over a plaintext connection, for a loopback address only (a server's
// --local-port, or tests); without an API key, plaintext is the default and needs no option.
func WithInsecure() Option { return func(s *settings) { s.insecure = true } }

// WithRoundRobin keeps a connection to every address the target resolves to (a `dns:///` name or
// `ipv4:10.0.0.1:6566,10.0.0.2:6566`) and sends each call to the next ready one, so calls spread over
// all servers and a dead server fails only the calls in flight on its connection.
func WithRoundRobin() Option { return func(s *settings) { s.roundRobin = true } }

// WithTimeout is the deadline of calls whose context has none. Default 30 s.
func WithTimeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// WithRetry replaces the retry policy (UNAVAILABLE only; see RetryPolicy).
func WithRetry(policy RetryPolicy) Option { return func(s *settings) { s.retry = policy } }

// WithMaxMessageBytes is the largest message received. Default 64 MiB, as the server's default.
func WithMaxMessageBytes(n int) Option { return func(s *settings) { s.maxMessageBytes = n } }

// WithDialOptions adds grpc-go dial options (interceptors, keepalive, ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *settings) { s.dialOptions = append(s.dialOptions, opts...) }
}

// Client is a connection to Tessera feature servers; safe for concurrent use. Close it when done.
type Client struct {
	conn    *grpc.ClientConn
	store   tesserapb.FeatureStoreClient
	timeout time.Duration
	retry   RetryPolicy
}

// Dial connects to target: `host:port`, a `dns:///` name (every address it resolves to, e.g. a
// headless Service's pods), or a fixed list `ipv4:10.0.0.1:6566,10.0.0.2:6566` (as grpc-js takes
// it). Connections are made lazily: a server that is down fails the first call (UNAVAILABLE,
// retried), not Dial. ctx bounds nothing after Dial returns.
func Dial(ctx context.Context, target string, opts ...Option) (*Client, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := settings{timeout: defaultTimeout, retry: DefaultRetryPolicy, maxMessageBytes: defaultMaxMessageBytes}
	for _, opt := range opts {
		opt(&s)
	}
	transport, err := transportCredentials(&s, target)
	if err != nil {
		return nil, err
	}
	dialOptions := []grpc.DialOption{
		grpc.WithTransportCredentials(transport),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(s.maxMessageBytes), grpc.MaxCallSendMsgSize(s.maxMessageBytes)),
		grpc.WithUnaryInterceptor(retryUnary(s.retry)),
	}
	if s.apiKey != "" {
		dialOptions = append(dialOptions, grpc.WithPerRPCCredentials(bearer{key: s.apiKey, requireTLS: !s.insecure}))
	}
	if s.roundRobin {
		dialOptions = append(dialOptions, grpc.WithDefaultServiceConfig(roundRobinConfig))
	}
	resolved, staticOptions, authority := staticTarget(target)
	dialOptions = append(dialOptions, staticOptions...)
	if authority != "" && !s.namesServer() {
		dialOptions = append(dialOptions, grpc.WithAuthority(authority))
	}
	conn, err := grpc.NewClient(resolved, append(dialOptions, s.dialOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("tessera: dial %s: %w", target, err)
	}
	return &Client{
		conn:    conn,
		store:   tesserapb.NewFeatureStoreClient(conn),
		timeout: s.timeout,
		retry:   s.retry,
	}, nil
}

// Close closes the connections.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying gRPC connection, for the tesserapb stubs of calls this client does not wrap
// (Registry, Operations, Materialize); unary calls through it get the same key, retries and *Error.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// withDefaultTimeout gives ctx the client's deadline unless it has one.
func (c *Client) withDefaultTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.timeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.timeout)
}

func transportCredentials(s *settings, target string) (credentials.TransportCredentials, error) {
	if s.tlsConfig != nil {
		return credentials.NewTLS(s.tlsConfig), nil
	}
	if s.tls != nil {
		config, err := loadTLS(*s.tls)
		if err != nil {
			return nil, err
		}
		return credentials.NewTLS(config), nil
	}
	if s.apiKey != "" {
		if !s.insecure {
			return nil, errors.New("tessera: an API key needs TLS (WithTLS): over plaintext anyone on the path reads it; WithInsecure allows plaintext to a loopback address")
		}
		if !isLoopbackTarget(target) {
			return nil, fmt.Errorf("tessera: WithInsecure sends the API key in plaintext, allowed only to a loopback address, not %q; use WithTLS", target)
		}
	}
	return insecure.NewCredentials(), nil
}

func loadTLS(c TLSConfig) (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tessera: TLS CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tessera: TLS CA file %s holds no PEM certificate", c.CAFile)
		}
		config.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("tessera: mTLS needs both CertFile and KeyFile")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tessera: TLS client certificate %s / key %s: %w", c.CertFile, c.KeyFile, err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return config, nil
}

// isLoopbackTarget tells whether every address of target is on loopback: `localhost`, 127.0.0.0/8
// or ::1, written as `host:port`, `dns:///host:port` or `ipv4:`/`ipv6:` lists.
func isLoopbackTarget(target string) bool {
	rest := target
	for _, scheme := range []string{"dns:///", "passthrough:///", "ipv4:", "ipv6:"} {
		rest = strings.TrimPrefix(rest, scheme)
	}
	if strings.Contains(rest, "://") || strings.HasPrefix(rest, "unix:") {
		return strings.HasPrefix(target, "unix:")
	}
	for _, address := range strings.Split(rest, ",") {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = strings.Trim(address, "[]")
		}
		if host == "localhost" {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	return true
}

// bearer is the per-call API key.
type bearer struct {
	key        string
	requireTLS bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.key}, nil
}

// RequireTransportSecurity makes grpc-go refuse to send the key over a connection without TLS.
func (b bearer) RequireTransportSecurity() bool { return b.requireTLS }

// namesServer tells whether the TLS settings name the server to check (TLSConfig.ServerName).
func (s *settings) namesServer() bool {
	return (s.tls != nil && s.tls.ServerName != "") || (s.tlsConfig != nil && s.tlsConfig.ServerName != "")
}
