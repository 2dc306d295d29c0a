package tessera_test

// Tests against a real `tessera serve` (mTLS, API keys, Redis Cluster, chDB offline server), started
// by test/clients/go.test.ts, which applies testdata/repo.yaml and passes the address in the
// environment. Without TESSERA_TEST_ADDRESS these tests are skipped.

import (
	"context"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"google.golang.org/grpc/codes"

	tessera "github.com/tessera-fs/tessera/clients/go"
)

type testServer struct {
	address, apiKey, readKey, caFile, otherCAFile, clientCert, clientKey string
}

// tls is the server's CA and the client certificate the server requires (mTLS).
func (s testServer) tls() tessera.TLSConfig {
	return tessera.TLSConfig{CAFile: s.caFile, CertFile: s.clientCert, KeyFile: s.clientKey}
}

func server(t *testing.T) testServer {
	t.Helper()
	s := testServer{
		address:     os.Getenv("TESSERA_TEST_ADDRESS"),
		apiKey:      os.Getenv("TESSERA_TEST_API_KEY"),
		readKey:     os.Getenv("TESSERA_TEST_READ_KEY"),
		caFile:      os.Getenv("TESSERA_TEST_CA_FILE"),
		otherCAFile: os.Getenv("TESSERA_TEST_OTHER_CA_FILE"),
		clientCert:  os.Getenv("TESSERA_TEST_CLIENT_CERT"),
		clientKey:   os.Getenv("TESSERA_TEST_CLIENT_KEY"),
	}
	if s.address == "" {
		t.Skip("TESSERA_TEST_ADDRESS is not set: run through test/clients/go.test.ts (npx vitest run test/clients/go.test.ts)")
	}
	return s
}

// dial connects to the server with the read-write key over TLS, or with the options given instead.
func dial(t *testing.T, opts ...tessera.Option) *tessera.Client {
	t.Helper()
	s := server(t)
	if opts == nil {
		opts = []tessera.Option{tessera.WithAPIKey(s.apiKey), tessera.WithTLS(s.tls())}
	}
	return dialTarget(t, s.address, opts...)
}

func dialTarget(t *testing.T, target string, opts ...tessera.Option) *tessera.Client {
	t.Helper()
	c, err := tessera.Dial(context.Background(), target, append(opts, tessera.WithTimeout(20*time.Second))...)
	if err != nil {
		t.Fatalf("Dial %s: %v", target, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func tesseraError(t *testing.T, err error, code codes.Code) *tessera.Error {
	t.Helper()
	var e *tessera.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v (%T), want a *tessera.Error with code %v", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %v (%s), want %v", e.Code, e.Message, code)
	}
	return e
}

func TestOnlineReadGivesValuesAndStatuses(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	// stats has a 1h TTL: customer 11 is written 90 min ago and reads as EXPIRED (the store keeps a row
	// for two TTLs so that EXPIRED and NOT_FOUND stay apart); 12 is never written.
	result, err := c.Write(ctx, "stats", map[string]tessera.Column{
		"customer_id":           tessera.Int64s(10, 11),
		"score":                 tessera.Float64s(42.5, 7),
		"segment":               tessera.Strings("vip", "new"),
		"embedding":             tessera.Float32Lists([]float32{0.25, 0.5, 1}, []float32{1, 2, 3}),
		tessera.EventTimeColumn: tessera.Times(now.Add(-time.Minute), now.Add(-90*time.Minute)),
	}, &tessera.WriteOptions{Target: tessera.OnlineOnly})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if result.Rows != 2 || result.AppliedOnline != 2 {
		t.Fatalf("Write result %+v, want 2 rows applied", result)
	}

	got, err := c.GetOnlineFeatures(ctx, []string{"stats:score", "stats:segment", "stats:embedding"},
		map[string]tessera.Column{"customer_id": tessera.Int64s(10, 11, 12)}, tessera.WithEventTimes())
	if err != nil {
		t.Fatalf("GetOnlineFeatures: %v", err)
	}
	if len(got.Features) != 3 || got.Features[0].Ref != "stats@1:score" {
		t.Fatalf("features %+v, want stats@1:score, segment, embedding", got.Features)
	}
	want := []tessera.Status{tessera.Present, tessera.Expired, tessera.NotFound}
	for _, f := range got.Features {
		if !reflect.DeepEqual(f.Statuses, want) {
			t.Errorf("%s statuses %v, want %v", f.Ref, f.Statuses, want)
		}
		if f.Values.IsNull(0) || !f.Values.IsNull(1) || !f.Values.IsNull(2) {
			t.Errorf("%s: only row 0 should hold a value: %v %v %v", f.Ref, f.Values.Any(0), f.Values.Any(1), f.Values.Any(2))
		}
		// An expired value keeps its stored event time, as the server sends it (conformance vector
		// online-event-timestamps); a value never written has none.
		if !f.EventTimes[0].Equal(now.Add(-time.Minute)) || !f.EventTimes[1].Equal(now.Add(-90*time.Minute)) || !f.EventTimes[2].IsZero() {
			t.Errorf("%s event times %v, want %v, %v, zero", f.Ref, f.EventTimes, now.Add(-time.Minute), now.Add(-90*time.Minute))
		}
	}
	score, ok := tessera.ColumnOf[float64](got.Feature("stats:score").Values)
	if !ok || score.Data[0] != 42.5 {
		t.Errorf("score column %#v, want a float64 column holding 42.5", got.Feature("stats:score").Values)
	}
	if segment, _ := tessera.ColumnOf[string](got.Feature("stats@1:segment").Values); segment == nil || segment.Data[0] != "vip" {
		t.Errorf("segment column %#v, want \"vip\"", got.Feature("stats@1:segment").Values)
	}
	if emb, _ := tessera.ColumnOf[[]float32](got.Feature("stats:embedding").Values); emb == nil || !reflect.DeepEqual(emb.Data[0], []float32{0.25, 0.5, 1}) {
		t.Errorf("embedding column %#v, want [0.25 0.5 1]", got.Feature("stats:embedding").Values)
	}
}

func TestWriteThenReadBackKeepsTheNewerEventAndHonoursIdempotencyKeys(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	now := time.Now().UTC()
	write := func(score float64, at time.Time, key string) tessera.WriteResult {
		t.Helper()
		r, err := c.Write(ctx, "stats", map[string]tessera.Column{
			"customer_id":           tessera.Int64s(20),
			"score":                 tessera.Float64s(score),
			"segment":               tessera.Strings("s"),
			"embedding":             tessera.Float32Lists([]float32{1, 1, 1}),
			tessera.EventTimeColumn: tessera.Times(at),
		}, &tessera.WriteOptions{Target: tessera.OnlineOnly, IdempotencyKey: key})
		if err != nil {
			t.Fatalf("Write %v: %v", score, err)
		}
		return r
	}
	read := func() float64 {
		t.Helper()
		got, err := c.GetOnlineFeatures(ctx, []string{"stats:score"}, map[string]tessera.Column{"customer_id": tessera.Int64s(20)})
		if err != nil {
			t.Fatalf("GetOnlineFeatures: %v", err)
		}
		v, ok := got.Features[0].Values.(*tessera.Values[float64]).Get(0)
		if !ok {
			t.Fatalf("no score for customer 20: %v", got.Features[0].Statuses)
		}
		return v
	}

	write(1, now.Add(-time.Minute), "")
	if v := read(); v != 1 {
		t.Fatalf("read back %v, want 1", v)
	}
	// An older event arriving late does not replace the newer value (last-writer-wins by event time).
	if r := write(2, now.Add(-10*time.Minute), ""); r.StaleOnline != 1 {
		t.Errorf("late event: %+v, want 1 stale row", r)
	}
	if v := read(); v != 1 {
		t.Errorf("after a late event read %v, want 1", v)
	}
	// A Write repeated with the same idempotency key returns the first result and writes nothing again:
	// after a newer write, the replay of an older one still answers "applied" (its first result), where
	// a new write of it would be stale.
	key := "go-client-test-" + now.Format(time.RFC3339Nano)
	first := write(3, now.Add(-30*time.Second), key)
	if v := read(); v != 3 || first.AppliedOnline != 1 {
		t.Fatalf("keyed write %+v, read %v, want 3 applied", first, v)
	}
	write(5, now.Add(-10*time.Second), "")
	if again := write(3, now.Add(-30*time.Second), key); again != first {
		t.Errorf("repeated key answered %+v, then %+v", first, again)
	}
	if v := read(); v != 5 {
		t.Errorf("after the replay read %v, want 5", v)
	}
	// The same key for a different write is refused, not silently ignored.
	_, err := c.Write(ctx, "stats", map[string]tessera.Column{
		"customer_id":           tessera.Int64s(20),
		"score":                 tessera.Float64s(9),
		"segment":               tessera.Strings("s"),
		"embedding":             tessera.Float32Lists([]float32{1, 1, 1}),
		tessera.EventTimeColumn: tessera.Times(now),
	}, &tessera.WriteOptions{Target: tessera.OnlineOnly, IdempotencyKey: key})
	if e := tesseraError(t, err, codes.FailedPrecondition); !strings.Contains(e.Message, "idempotency key") {
		t.Errorf("reused key: %q", e.Message)
	}
}

func TestBadWriteIsATypedErrorNamingTheColumn(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	at := time.Now().Add(-time.Minute)
	_, err := c.Write(ctx, "stats", map[string]tessera.Column{
		"customer_id":           tessera.Int64s(30, 31, 32),
		"score":                 tessera.Float64s(5, 500, math.Inf(1)),
		"segment":               tessera.Strings("a", "b", "c"),
		"embedding":             tessera.Float32Lists([]float32{1, 2, 3}, []float32{1, 2, 3}, []float32{1, 2, 3}),
		tessera.EventTimeColumn: tessera.Times(at, at, at),
	}, &tessera.WriteOptions{Target: tessera.OnlineOnly})
	e := tesseraError(t, err, codes.InvalidArgument)
	if !strings.Contains(e.Message, "score") || e.Attempts != 1 {
		t.Errorf("message %q (after %d attempts), want one attempt naming column score", e.Message, e.Attempts)
	}
	if len(e.Problems) != 2 || !strings.Contains(e.Problems[0].Path, "row 1, column score") || !strings.Contains(e.Problems[1].Path, "row 2, column score") {
		t.Errorf("problems %+v, want rows 1 and 2 of column score", e.Problems)
	}
	if tessera.CodeOf(err) != codes.InvalidArgument {
		t.Errorf("CodeOf = %v", tessera.CodeOf(err))
	}
	// The batch was rejected whole: row 0, which was valid, was not written.
	got, err := c.GetOnlineFeatures(ctx, []string{"stats:score"}, map[string]tessera.Column{"customer_id": tessera.Int64s(30)})
	if err != nil {
		t.Fatalf("GetOnlineFeatures: %v", err)
	}
	if got.Features[0].Statuses[0] != tessera.NotFound {
		t.Errorf("customer 30 is %v, want NOT_FOUND", got.Features[0].Statuses[0])
	}

	_, err = c.GetOnlineFeatures(ctx, []string{"nope:score"}, map[string]tessera.Column{"customer_id": tessera.Int64s(1)})
	if e := tesseraError(t, err, codes.NotFound); !strings.Contains(e.Message, "nope") {
		t.Errorf("unknown view: %q does not name it", e.Message)
	}
}

func TestHistoricalValuesArePointInTime(t *testing.T) {
	c := dial(t)
	ctx := context.Background()
	day := 24 * time.Hour
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// Sync: the offline copy is written before the answer, so the training set sees it at once.
	_, err := c.Write(ctx, "history", map[string]tessera.Column{
		"customer_id":           tessera.Int64s(40, 40),
		"spend":                 tessera.Float64s(10, 30),
		tessera.EventTimeColumn: tessera.Times(t0.Add(day), t0.Add(5*day)),
	}, &tessera.WriteOptions{Target: tessera.OfflineOnly, Durability: tessera.Sync})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	// history has a 10-day TTL: at day 20 the day-5 value is too old.
	rows := tessera.EntityRows{
		Keys:        map[string]tessera.Column{"customer_id": tessera.Int64s(40, 40, 40, 40, 41)},
		EventTimes:  []time.Time{t0, t0.Add(2 * day), t0.Add(5 * day), t0.Add(20 * day), t0.Add(2 * day)},
		Passthrough: map[string]tessera.Column{"label": tessera.Int64s(0, 1, 2, 3, 4)},
	}
	set, err := c.GetHistoricalFeatures(ctx, rows, []string{"history:spend"})
	if err != nil {
		t.Fatalf("GetHistoricalFeatures: %v", err)
	}
	defer set.Release()
	if set.Rows() != 5 {
		t.Fatalf("%d rows, want 5", set.Rows())
	}
	var spend []any
	var labels []int64
	for _, record := range set.Records {
		spend = append(spend, columnValues(t, record, "history__spend")...)
		for _, v := range columnValues(t, record, "label") {
			labels = append(labels, v.(int64))
		}
	}
	if want := []any{nil, 10.0, 30.0, nil, nil}; !reflect.DeepEqual(spend, want) {
		t.Errorf("history__spend %v, want %v", spend, want)
	}
	if want := []int64{0, 1, 2, 3, 4}; !reflect.DeepEqual(labels, want) {
		t.Errorf("labels %v, want %v (input order)", labels, want)
	}

	_, err = c.GetHistoricalFeatures(ctx, rows, []string{"history:nope"})
	tesseraError(t, err, codes.NotFound)
}

// columnValues reads a float64 or int64 column of record by name, nil for nulls.
func columnValues(t *testing.T, record arrow.RecordBatch, name string) []any {
	t.Helper()
	indices := record.Schema().FieldIndices(name)
	if len(indices) != 1 {
		t.Fatalf("no column %q in %v", name, record.Schema())
	}
	out := make([]any, record.NumRows())
	switch column := record.Column(indices[0]).(type) {
	case *array.Float64:
		for i := range out {
			if column.IsValid(i) {
				out[i] = column.Value(i)
			}
		}
	case *array.Int64:
		for i := range out {
			if column.IsValid(i) {
				out[i] = column.Value(i)
			}
		}
	default:
		t.Fatalf("column %q is %v", name, column.DataType())
	}
	return out
}

func TestAuthFailuresAreTypedErrors(t *testing.T) {
	s := server(t)
	ctx := context.Background()
	tls := tessera.WithTLS(s.tls())
	entities := map[string]tessera.Column{"customer_id": tessera.Int64s(1)}

	_, err := dial(t, tls).GetOnlineFeatures(ctx, []string{"stats:score"}, entities)
	tesseraError(t, err, codes.Unauthenticated)

	_, err = dial(t, tls, tessera.WithAPIKey("tsk_0000000000000000_wrong")).GetOnlineFeatures(ctx, []string{"stats:score"}, entities)
	tesseraError(t, err, codes.Unauthenticated)

	readOnly := dial(t, tls, tessera.WithAPIKey(s.readKey))
	if _, err := readOnly.GetOnlineFeatures(ctx, []string{"stats:score"}, entities); err != nil {
		t.Fatalf("a read key reading: %v", err)
	}
	_, err = readOnly.Write(ctx, "history", map[string]tessera.Column{
		"customer_id":           tessera.Int64s(1),
		"spend":                 tessera.Float64s(1),
		tessera.EventTimeColumn: tessera.Times(time.Now()),
	}, nil)
	tesseraError(t, err, codes.PermissionDenied)

	// A server whose certificate the client's CA did not sign is refused (and UNAVAILABLE is retried).
	twice := tessera.WithRetry(tessera.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	untrusted := s.tls()
	untrusted.CAFile = s.otherCAFile
	_, err = dial(t, tessera.WithTLS(untrusted), tessera.WithAPIKey(s.apiKey), twice).GetOnlineFeatures(ctx, []string{"stats:score"}, entities)
	if e := tesseraError(t, err, codes.Unavailable); e.Attempts != 2 {
		t.Errorf("untrusted server: %d attempts, want 2", e.Attempts)
	}

	// The server requires a client certificate: without one the call fails, whatever the key.
	_, err = dial(t, tessera.WithTLS(tessera.TLSConfig{CAFile: s.caFile}), tessera.WithAPIKey(s.apiKey), twice).GetOnlineFeatures(ctx, []string{"stats:score"}, entities)
	tesseraError(t, err, codes.Unavailable)
}

func TestRoundRobinOverAListOfAddressesAndDeadlines(t *testing.T) {
	s := server(t)
	// The same server twice: round_robin keeps a connection per address and alternates between them;
	// TLS checks the first address (127.0.0.1, in the certificate) as no ServerName is given.
	c := dialTarget(t, "ipv4:"+s.address+","+s.address, tessera.WithRoundRobin(), tessera.WithAPIKey(s.apiKey),
		tessera.WithTLS(s.tls()))
	entities := map[string]tessera.Column{"customer_id": tessera.Int64s(1)}
	ctx := context.Background()
	for i := range 4 {
		if _, err := c.GetOnlineFeatures(ctx, []string{"stats:score"}, entities); err != nil {
			t.Fatalf("call %d over ipv4:%s,%s: %v", i, s.address, s.address, err)
		}
	}
	// A context that has already run out is not retried: the answer is DEADLINE_EXCEEDED at once.
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	_, err := c.GetOnlineFeatures(expired, []string{"stats:score"}, entities)
	if e := tesseraError(t, err, codes.DeadlineExceeded); e.Attempts != 1 {
		t.Errorf("%d attempts after the deadline, want 1", e.Attempts)
	}
}
