//go:build conformance

// Package conformance replays the conformance vectors (conformance/README.md) against a running
// server through the generated tesserapb stubs: each request is decoded from proto3 JSON with
// protojson, sent, and the response encoded back with protojson (defaults omitted), normalised and
// compared as the README says.
//
// Run by test/conformance/conformance.test.ts after its setup writes:
//
//	go test -tags conformance -count=1 ./conformance
//
// Environment: TESSERA_CONFORMANCE_TARGET (host:port, plaintext), TESSERA_CONFORMANCE_NOW_MS (the
// run's NOW, ms), TESSERA_CONFORMANCE_DIR (default ../../../conformance), TESSERA_CONFORMANCE_ANSWERS
// (optional: the answers are written there as JSON, {vector name: answer}).
//
// The build tag keeps it out of `go test ./...`, which runs without a conformance server.
package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tessera-fs/tessera/clients/go/tesserapb"
)

const (
	runner          = "go"
	problemsTrailer = "tessera-problems-bin"
	callTimeout     = 30 * time.Second
)

var nowPattern = regexp.MustCompile(`^\$\{now(?:([+-])(\d+)(ms|s|m|h|d))?\}$`)

var unitMillis = map[string]int64{"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}

// codeNames are the canonical upper-snake names of the gRPC status codes (Go's String() says NotFound).
var codeNames = map[codes.Code]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED", codes.Internal: "INTERNAL",
	codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS", codes.Unauthenticated: "UNAUTHENTICATED",
}

// methods are the vectors' unary rpcs: a fresh request and response message of each.
var methods = map[string]func() (proto.Message, proto.Message){
	"tessera.v1.FeatureStore/GetOnlineFeatures": func() (proto.Message, proto.Message) {
		return &tesserapb.GetOnlineFeaturesRequest{}, &tesserapb.GetOnlineFeaturesResponse{}
	},
	"tessera.v1.FeatureStore/Write": func() (proto.Message, proto.Message) {
		return &tesserapb.WriteRequest{}, &tesserapb.WriteResponse{}
	},
	"tessera.v1.Registry/Get": func() (proto.Message, proto.Message) {
		return &tesserapb.GetRequest{}, &tesserapb.GetResponse{}
	},
}

type expectedError struct {
	Code            string   `json:"code"`
	MessageContains []string `json:"messageContains"`
	Problems        []any    `json:"problems"`
}

type vector struct {
	File    string
	Name    string          `json:"name"`
	RPC     string          `json:"rpc"`
	Request json.RawMessage `json:"request"`
	Expect  struct {
		Response any            `json:"response"`
		Ignore   []string       `json:"ignore"`
		Error    *expectedError `json:"error"`
	} `json:"expect"`
}

type errorAnswer struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Problems []any  `json:"problems"`
}

// answer is a response as proto3 JSON, or a status.
type answer struct {
	Response any          `json:"response,omitempty"`
	Error    *errorAnswer `json:"error,omitempty"`
}

// substituteNow replaces `${now}` / `${now-2h}` strings by decimal ms strings relative to now.
func substituteNow(value any, now int64) any {
	switch v := value.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = substituteNow(x, now)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = substituteNow(x, now)
		}
		return out
	case string:
		m := nowPattern.FindStringSubmatch(v)
		if m == nil {
			return v
		}
		offset := int64(0)
		if m[1] != "" {
			n, _ := strconv.ParseInt(m[2], 10, 64)
			offset = n * unitMillis[m[3]]
			if m[1] == "-" {
				offset = -offset
			}
		}
		return strconv.FormatInt(now+offset, 10)
	default:
		return v
	}
}

type absent struct{}

// stripDefaults drops default values (as test/conformance/vectors.ts normalise); absent{} marks a dropped one.
func stripDefaults(value any) any {
	switch v := value.(type) {
	case []any:
		if len(v) == 0 {
			return absent{}
		}
		// Inside a list every element counts (a 0 or "" is a row): only nested objects are cleaned.
		out := make([]any, len(v))
		for i, x := range v {
			if _, isObject := x.(map[string]any); isObject {
				out[i] = orEmpty(stripDefaults(x))
			} else {
				out[i] = x
			}
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, x := range v {
			if cleaned := stripDefaults(x); cleaned != (absent{}) {
				out[k] = cleaned
			}
		}
		if len(out) == 0 {
			return absent{}
		}
		return out
	case nil:
		return absent{}
	case bool:
		if !v {
			return absent{}
		}
	case float64:
		if v == 0 {
			return absent{}
		}
	case string:
		if v == "" || v == "0" || strings.HasSuffix(v, "_UNSPECIFIED") {
			return absent{}
		}
	}
	return value
}

func orEmpty(value any) any {
	if value == (absent{}) {
		return map[string]any{}
	}
	return value
}

func dropPath(value any, path []string) any {
	if list, ok := value.([]any); ok {
		out := make([]any, len(list))
		for i, x := range list {
			out[i] = dropPath(x, path)
		}
		return out
	}
	object, ok := value.(map[string]any)
	if !ok || len(path) == 0 {
		return value
	}
	child, present := object[path[0]]
	if !present {
		return value
	}
	out := make(map[string]any, len(object))
	for k, x := range object {
		out[k] = x
	}
	if len(path) == 1 {
		delete(out, path[0])
	} else {
		out[path[0]] = dropPath(child, path[1:])
	}
	return out
}

func normalise(value any, ignore []string) any {
	out := stripDefaults(value)
	for _, path := range ignore {
		out = dropPath(out, strings.Split(path, "."))
	}
	return orEmpty(out)
}

// mismatch says why got does not meet the vector's expectation, or "" when it does.
func mismatch(v vector, got answer, now int64) string {
	if want := v.Expect.Error; want != nil {
		if got.Error == nil {
			return "expected an error, got a response"
		}
		var problems []string
		if got.Error.Code != want.Code {
			problems = append(problems, fmt.Sprintf("code %s ≠ %s", got.Error.Code, want.Code))
		}
		for _, part := range want.MessageContains {
			if !strings.Contains(got.Error.Message, part) {
				problems = append(problems, fmt.Sprintf("message lacks %q", part))
			}
		}
		if want.Problems != nil && !reflect.DeepEqual(got.Error.Problems, substituteNow(want.Problems, now)) {
			problems = append(problems, "problem list differs")
		}
		return strings.Join(problems, "; ")
	}
	if got.Error != nil {
		return fmt.Sprintf("expected a response, got %s: %s", got.Error.Code, got.Error.Message)
	}
	expected := substituteNow(v.Expect.Response, now)
	if !reflect.DeepEqual(normalise(got.Response, v.Expect.Ignore), normalise(expected, v.Expect.Ignore)) {
		return "response differs"
	}
	return ""
}

func show(value any) string {
	text, err := json.Marshal(value)
	if err != nil {
		return fmt.Sprint(value)
	}
	return string(text)
}

func report(v vector, why string, got answer, now int64) string {
	var want, actual any
	if v.Expect.Error != nil {
		want = v.Expect.Error
	} else {
		want = normalise(substituteNow(v.Expect.Response, now), v.Expect.Ignore)
	}
	if got.Error != nil {
		actual = got.Error
	} else {
		actual = normalise(got.Response, v.Expect.Ignore)
	}
	return fmt.Sprintf("[%s] vector %s (%s): %s\n  expected: %s\n  actual:   %s", runner, v.Name, v.File, why, show(want), show(actual))
}

func loadVectors(t *testing.T, dir string) []vector {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "vectors", "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vectors in %s (%v)", filepath.Join(dir, "vectors"), err)
	}
	sort.Strings(paths)
	vectors := make([]vector, 0, len(paths))
	for _, path := range paths {
		text, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(text, &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		v.File = filepath.Base(path)
		vectors = append(vectors, v)
	}
	return vectors
}

func call(ctx context.Context, conn *grpc.ClientConn, v vector, now int64) (answer, error) {
	newMessages, known := methods[v.RPC]
	if !known {
		return answer{}, fmt.Errorf("vector %s: the Go runner does not know rpc %s", v.Name, v.RPC)
	}
	var raw any
	if err := json.Unmarshal(v.Request, &raw); err != nil {
		return answer{}, err
	}
	requestJSON, err := json.Marshal(substituteNow(raw, now))
	if err != nil {
		return answer{}, err
	}
	request, response := newMessages()
	if err := protojson.Unmarshal(requestJSON, request); err != nil {
		return answer{}, fmt.Errorf("vector %s: request is not proto3 JSON of %T: %w", v.Name, request, err)
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var trailer metadata.MD
	if err := conn.Invoke(ctx, "/"+v.RPC, request, response, grpc.Trailer(&trailer)); err != nil {
		st, _ := status.FromError(err)
		name, ok := codeNames[st.Code()]
		if !ok {
			name = "code " + strconv.Itoa(int(st.Code()))
		}
		e := &errorAnswer{Code: name, Message: st.Message(), Problems: []any{}}
		for _, value := range trailer.Get(problemsTrailer) {
			var problems []any
			if err := json.Unmarshal([]byte(value), &problems); err != nil {
				return answer{}, fmt.Errorf("vector %s: %s is not a JSON list: %w", v.Name, problemsTrailer, err)
			}
			e.Problems = append(e.Problems, problems...)
		}
		return answer{Error: e}, nil
	}
	encoded, err := protojson.Marshal(response)
	if err != nil {
		return answer{}, err
	}
	var decoded any
	if err := json.Unmarshal(encoded, &decoded); err != nil {
		return answer{}, err
	}
	return answer{Response: decoded}, nil
}

func TestConformanceVectors(t *testing.T) {
	target := os.Getenv("TESSERA_CONFORMANCE_TARGET")
	nowText := os.Getenv("TESSERA_CONFORMANCE_NOW_MS")
	if target == "" || nowText == "" {
		t.Fatal("set TESSERA_CONFORMANCE_TARGET and TESSERA_CONFORMANCE_NOW_MS (run through test/conformance/conformance.test.ts)")
	}
	now, err := strconv.ParseInt(nowText, 10, 64)
	if err != nil {
		t.Fatalf("TESSERA_CONFORMANCE_NOW_MS: %v", err)
	}
	dir := os.Getenv("TESSERA_CONFORMANCE_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "conformance")
	}
	vectors := loadVectors(t, dir)

	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	answers := map[string]answer{}
	failures := 0
	for _, v := range vectors {
		got, err := call(context.Background(), conn, v, now)
		if err != nil {
			t.Fatal(err)
		}
		answers[v.Name] = got
		if why := mismatch(v, got, now); why != "" {
			failures++
			fmt.Println(report(v, why, got, now))
		}
	}
	if out := os.Getenv("TESSERA_CONFORMANCE_ANSWERS"); out != "" {
		text, err := json.MarshalIndent(answers, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("[%s] %d of %d vectors passed\n", runner, len(vectors)-failures, len(vectors))
	if failures > 0 {
		t.Fatalf("%d of %d vectors failed", failures, len(vectors))
	}
}
