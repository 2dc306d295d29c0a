//go:build conformance

package conformance

// The [go-client] pass: the vectors through the client's own API (tessera.Client.GetOnlineFeatures
// and Write, failures as *tessera.Error), every vector that API can express. GetOnlineFeatures
// answers are compared in the rows view of conformance/README.md ("Client-level comparison"), writes
// as a WriteResponse, errors by code, message and problem list. Answers go to
// TESSERA_CONFORMANCE_CLIENT_ANSWERS ({vector name: {"rows": …} | {"response": …} | {"error": …}}).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	tessera "github.com/tessera-fs/tessera/clients/go"
)

const (
	clientRunner = "go-client"
	onlineRPC    = "tessera.v1.FeatureStore/GetOnlineFeatures"
	writeRPC     = "tessera.v1.FeatureStore/Write"
)

// notExpressible says why the client's API cannot say a vector's request (the vector is skipped).
type notExpressible struct{ why string }

func (n notExpressible) Error() string { return n.why }

func skip(format string, args ...any) error { return notExpressible{fmt.Sprintf(format, args...)} }

// rowView is one entity's value of one feature in the rows view.
type rowView struct {
	Status         string  `json:"status"`
	Value          any     `json:"value"`
	EventTimestamp *string `json:"eventTimestamp,omitempty"`
}

// featureView is one feature in the rows view.
type featureView struct {
	Ref  string    `json:"ref"`
	Type string    `json:"type"`
	Rows []rowView `json:"rows"`
}

// clientAnswer is a client-level answer: the rows view of a read, a write's counts, or an error.
type clientAnswer struct {
	Rows     []featureView `json:"rows,omitempty"`
	Response any           `json:"response,omitempty"`
	Error    *errorAnswer  `json:"error,omitempty"`
}

// toJSONValue turns a decoded JSON value and back into plain JSON values (map[string]any, []any,
// float64, string, bool, nil) so answers and expectations compare with reflect.DeepEqual.
func toJSONValue(value any) any {
	text, err := json.Marshal(value)
	if err != nil {
		panic(err)
	}
	var out any
	if err := json.Unmarshal(text, &out); err != nil {
		panic(err)
	}
	return out
}

// columnFromJSON is a proto3 JSON column (`{"int64Values": {"values": […]}, "nullRows": […]}`) as a
// client column; list kinds are not needed by any vector and are not expressible here.
func columnFromJSON(name string, raw any) (tessera.Column, error) {
	object, _ := raw.(map[string]any)
	var kinds []string
	for k := range object {
		if k != "nullRows" {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) != 1 {
		return nil, skip("column %s with kinds %v", name, kinds)
	}
	typed, _ := object[kinds[0]].(map[string]any)
	values, _ := typed["values"].([]any)
	var nulls []int
	if list, ok := object["nullRows"].([]any); ok {
		for _, r := range list {
			n, _ := r.(float64)
			nulls = append(nulls, int(n))
		}
	}
	var column tessera.Column
	switch kinds[0] {
	case "int64Values", "timestampValues":
		data := make([]int64, len(values))
		for i, v := range values {
			text, _ := v.(string)
			n, err := strconv.ParseInt(text, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("column %s row %d: %v is not an int64 in proto3 JSON", name, i, v)
			}
			data[i] = n
		}
		if kinds[0] == "int64Values" {
			column = tessera.Int64s(data...).WithNulls(nulls...)
		} else {
			times := make([]time.Time, len(data))
			for i, ms := range data {
				times[i] = time.UnixMilli(ms).UTC()
			}
			column = tessera.Times(times...).WithNulls(nulls...)
		}
	case "doubleValues":
		data := make([]float64, len(values))
		for i, v := range values {
			n, ok := v.(float64)
			if !ok {
				return nil, skip("column %s row %d: %v", name, i, v)
			}
			data[i] = n
		}
		column = tessera.Float64s(data...).WithNulls(nulls...)
	case "stringValues":
		data := make([]string, len(values))
		for i, v := range values {
			data[i], _ = v.(string)
		}
		column = tessera.Strings(data...).WithNulls(nulls...)
	case "boolValues":
		data := make([]bool, len(values))
		for i, v := range values {
			data[i], _ = v.(bool)
		}
		column = tessera.Bools(data...).WithNulls(nulls...)
	case "bytesValues":
		data := make([][]byte, len(values))
		for i, v := range values {
			text, _ := v.(string)
			b, err := base64.StdEncoding.DecodeString(text)
			if err != nil {
				return nil, fmt.Errorf("column %s row %d: %w", name, i, err)
			}
			data[i] = b
		}
		column = tessera.ByteStrings(data...).WithNulls(nulls...)
	default:
		return nil, skip("column %s of kind %s", name, kinds[0])
	}
	return column, nil
}

func onlyFields(request map[string]any, allowed ...string) error {
	var extra []string
	for k := range request {
		known := false
		for _, a := range allowed {
			known = known || k == a
		}
		if !known {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return skip("fields %v", extra)
	}
	return nil
}

// rowValue is a value of the client's answer in the rows view's JSON form: int64 and timestamps as
// decimal strings (ms), doubles and floats as numbers (float32 widened exactly), bytes as base64.
func rowValue(value any) any {
	switch v := value.(type) {
	case nil:
		return nil
	case int64:
		return strconv.FormatInt(v, 10)
	case time.Time:
		return strconv.FormatInt(v.UnixMilli(), 10)
	case []byte:
		return base64.StdEncoding.EncodeToString(v)
	case []float32:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	case []float64:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out
	case []int64:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = strconv.FormatInt(x, 10)
		}
		return out
	case []string:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = x
		}
		return out
	default:
		return v
	}
}

func rowsOf(result *tessera.OnlineFeatures, withTimestamps bool) []featureView {
	out := make([]featureView, 0, len(result.Features))
	for _, f := range result.Features {
		view := featureView{Ref: f.Ref, Rows: make([]rowView, len(f.Statuses))}
		if f.Values != nil {
			view.Type = f.Values.Type().String()
		}
		for i, status := range f.Statuses {
			row := rowView{Status: status.String()}
			if f.Values != nil && i < f.Values.Len() {
				row.Value = rowValue(f.Values.Any(i))
			}
			if withTimestamps {
				stamp := "0"
				if i < len(f.EventTimes) && !f.EventTimes[i].IsZero() {
					stamp = strconv.FormatInt(f.EventTimes[i].UnixMilli(), 10)
				}
				row.EventTimestamp = &stamp
			}
			view.Rows[i] = row
		}
		out = append(out, view)
	}
	return out
}

// typedError is the answer of a failed call, which must be a *tessera.Error.
func typedError(err error) (clientAnswer, error) {
	var e *tessera.Error
	if !errors.As(err, &e) {
		return clientAnswer{}, fmt.Errorf("the client returned %T, not a *tessera.Error: %w", err, err)
	}
	name, ok := codeNames[e.Code]
	if !ok {
		name = "code " + strconv.Itoa(int(e.Code))
	}
	problems := []any{}
	for _, p := range e.Problems {
		problems = append(problems, toJSONValue(p))
	}
	return clientAnswer{Error: &errorAnswer{Code: name, Message: e.Message, Problems: problems}}, nil
}

var writeTargets = map[string]tessera.Target{
	"":                                0, // unset: the server's default
	"WRITE_TARGET_ONLINE_AND_OFFLINE": tessera.OnlineAndOffline,
	"WRITE_TARGET_ONLINE":             tessera.OnlineOnly,
	"WRITE_TARGET_OFFLINE":            tessera.OfflineOnly,
}

var durabilities = map[string]tessera.Durability{
	"":                        0, // unset: the server's default
	"DURABILITY_WRITE_BEHIND": tessera.WriteBehind,
	"DURABILITY_SYNC":         tessera.Sync,
	"DURABILITY_REPLICATED":   tessera.Replicated,
}

// clientCall replays v through the client's API; a notExpressible error skips it.
func clientCall(ctx context.Context, c *tessera.Client, v vector, now int64) (clientAnswer, error) {
	var raw any
	if err := json.Unmarshal(v.Request, &raw); err != nil {
		return clientAnswer{}, err
	}
	request, _ := substituteNow(raw, now).(map[string]any)
	switch v.RPC {
	case onlineRPC:
		if err := onlyFields(request, "features", "featureService", "entities", "includeEventTimestamps"); err != nil {
			return clientAnswer{}, err
		}
		entities := map[string]tessera.Column{}
		keys, _ := request["entities"].(map[string]any)
		for name, column := range keys {
			c, err := columnFromJSON(name, column)
			if err != nil {
				return clientAnswer{}, err
			}
			entities[name] = c
		}
		var refs []string
		if list, ok := request["features"].([]any); ok {
			for _, r := range list {
				text, _ := r.(string)
				refs = append(refs, text)
			}
		}
		var opts []tessera.ReadOption
		withTimestamps, _ := request["includeEventTimestamps"].(bool)
		if withTimestamps {
			opts = append(opts, tessera.WithEventTimes())
		}
		if service, _ := request["featureService"].(string); service != "" {
			opts = append(opts, tessera.WithFeatureService(service))
		}
		result, err := c.GetOnlineFeatures(ctx, refs, entities, opts...)
		if err != nil {
			return typedError(err)
		}
		return clientAnswer{Rows: rowsOf(result, withTimestamps)}, nil
	case writeRPC:
		if err := onlyFields(request, "featureView", "columns", "eventTimestamps", "target", "durability", "idempotencyKey"); err != nil {
			return clientAnswer{}, err
		}
		columns := map[string]tessera.Column{}
		given, _ := request["columns"].(map[string]any)
		for name, column := range given {
			if name == tessera.EventTimeColumn {
				return clientAnswer{}, skip("a feature named %s (the client's event-time column)", name)
			}
			c, err := columnFromJSON(name, column)
			if err != nil {
				return clientAnswer{}, err
			}
			columns[name] = c
		}
		stamps, err := columnFromJSON(tessera.EventTimeColumn, request["eventTimestamps"])
		if err != nil {
			return clientAnswer{}, err
		}
		columns[tessera.EventTimeColumn] = stamps
		targetName, _ := request["target"].(string)
		durabilityName, _ := request["durability"].(string)
		target, knownTarget := writeTargets[targetName]
		durability, knownDurability := durabilities[durabilityName]
		if !knownTarget || !knownDurability {
			return clientAnswer{}, skip("target %q, durability %q", targetName, durabilityName)
		}
		key, _ := request["idempotencyKey"].(string)
		view, _ := request["featureView"].(string)
		written, err := c.Write(ctx, view, columns, &tessera.WriteOptions{Target: target, Durability: durability, IdempotencyKey: key})
		if err != nil {
			return typedError(err)
		}
		return clientAnswer{Response: map[string]any{
			"rows":              strconv.FormatUint(written.Rows, 10),
			"rowsAppliedOnline": strconv.FormatUint(written.AppliedOnline, 10),
			"rowsStaleOnline":   strconv.FormatUint(written.StaleOnline, 10),
		}}, nil
	default:
		return clientAnswer{}, skip("rpc %s (the client has no call for it)", v.RPC)
	}
}

// expectedRows is the rows view of the vector's expected response (conformance/README.md).
func expectedRows(v vector, now int64, withTimestamps bool) any {
	response, _ := substituteNow(v.Expect.Response, now).(map[string]any)
	features, _ := response["features"].([]any)
	out := []any{}
	listKinds := map[string]bool{"floatListValues": true, "doubleListValues": true, "int64ListValues": true, "stringListValues": true}
	for _, raw := range features {
		f, _ := raw.(map[string]any)
		column, _ := f["values"].(map[string]any)
		nulls := map[int]bool{}
		if list, ok := column["nullRows"].([]any); ok {
			for _, r := range list {
				n, _ := r.(float64)
				nulls[int(n)] = true
			}
		}
		kind := ""
		for k := range column {
			if k != "nullRows" {
				kind = k
			}
		}
		typed, _ := column[kind].(map[string]any)
		flat, _ := typed["values"].([]any)
		lengths, _ := typed["lengths"].([]any)
		statuses, _ := f["statuses"].([]any)
		stamps, _ := f["eventTimestamps"].([]any)
		rows := []any{}
		offset := 0
		for i, s := range statuses {
			var value any
			if listKinds[kind] {
				n := 0
				if i < len(lengths) {
					length, _ := lengths[i].(float64)
					n = int(length)
				}
				value = append([]any{}, flat[offset:offset+n]...)
				offset += n
			} else if i < len(flat) {
				value = flat[i]
			}
			if nulls[i] {
				value = nil
			}
			status, _ := s.(string)
			row := map[string]any{"status": strings.TrimPrefix(status, "FEATURE_STATUS_"), "value": value}
			if withTimestamps {
				row["eventTimestamp"] = "0"
				if i < len(stamps) {
					row["eventTimestamp"] = stamps[i]
				}
			}
			rows = append(rows, row)
		}
		out = append(out, map[string]any{"ref": f["ref"], "type": f["type"], "rows": rows})
	}
	return out
}

// clientMismatch is mismatch, and a rows answer compared with the rows view of the expected response.
func clientMismatch(v vector, got clientAnswer, now int64) string {
	if got.Rows == nil {
		return mismatch(v, answer{Response: got.Response, Error: got.Error}, now)
	}
	if v.Expect.Error != nil {
		return "expected an error, got a response"
	}
	var raw map[string]any
	_ = json.Unmarshal(v.Request, &raw)
	withTimestamps, _ := raw["includeEventTimestamps"].(bool)
	if !reflect.DeepEqual(toJSONValue(got.Rows), expectedRows(v, now, withTimestamps)) {
		return "rows differ"
	}
	return ""
}

func clientReport(v vector, why string, got clientAnswer, now int64) string {
	if got.Rows == nil {
		return strings.Replace(report(v, why, answer{Response: got.Response, Error: got.Error}, now), "["+runner+"]", "["+clientRunner+"]", 1)
	}
	var want any = v.Expect.Error
	if v.Expect.Error == nil {
		var raw map[string]any
		_ = json.Unmarshal(v.Request, &raw)
		withTimestamps, _ := raw["includeEventTimestamps"].(bool)
		want = expectedRows(v, now, withTimestamps)
	}
	return fmt.Sprintf("[%s] vector %s (%s): %s\n  expected: %s\n  actual:   %s", clientRunner, v.Name, v.File, why, show(want), show(got.Rows))
}

func TestClientConformanceVectors(t *testing.T) {
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
		dir = "../../../conformance"
	}
	vectors := loadVectors(t, dir)
	ctx := context.Background()
	client, err := tessera.Dial(ctx, target, tessera.WithInsecure(), tessera.WithTimeout(callTimeout))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	answers := map[string]clientAnswer{}
	failures, skipped := 0, 0
	for _, v := range vectors {
		got, err := clientCall(ctx, client, v, now)
		var cannot notExpressible
		if errors.As(err, &cannot) {
			skipped++
			fmt.Printf("[%s] not expressible through the client's API: %s (%s)\n", clientRunner, v.Name, cannot.why)
			continue
		}
		if err != nil {
			t.Fatalf("vector %s: %v", v.Name, err)
		}
		answers[v.Name] = got
		if why := clientMismatch(v, got, now); why != "" {
			failures++
			fmt.Println(clientReport(v, why, got, now))
		}
	}
	if out := os.Getenv("TESSERA_CONFORMANCE_CLIENT_ANSWERS"); out != "" {
		text, err := json.MarshalIndent(answers, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, text, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("[%s] %d of %d vectors passed (%d not expressible)\n", clientRunner, len(answers)-failures, len(answers), skipped)
	if failures > 0 {
		t.Fatalf("%d of %d vectors failed", failures, len(answers))
	}
}
