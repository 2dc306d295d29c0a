package tessera

import (
	"reflect"
	"testing"
	"time"
)

func TestColumnsRoundTripThroughProto(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123).UTC()
	for _, column := range []Column{
		Int64s(1, -2, 1<<62),
		Float64s(1.5, 0).WithNulls(1),
		Strings("a", "", "ü"),
		Bools(true, false),
		Times(at, time.Time{}).WithNulls(1),
		ByteStrings([]byte{0, 1}, nil),
		Float32Lists([]float32{0.5, 1}, nil, []float32{2}).WithNulls(1),
		Float64Lists([]float64{1}, []float64{2, 3}),
		Int64Lists(nil, []int64{4, 5, 6}),
		StringLists([]string{"x", "y"}, []string{}),
	} {
		back, err := fromProto(column.toProto())
		if err != nil {
			t.Fatalf("%v: %v", column.Type(), err)
		}
		if back.Type() != column.Type() || back.Len() != column.Len() {
			t.Fatalf("%v: came back as %v of %d rows", column.Type(), back.Type(), back.Len())
		}
		for row := range column.Len() {
			if column.IsNull(row) != back.IsNull(row) {
				t.Errorf("%v row %d: null %v came back %v", column.Type(), row, column.IsNull(row), back.IsNull(row))
			}
			want, got := column.Any(row), back.Any(row)
			if !equalValues(want, got) {
				t.Errorf("%v row %d: %#v came back as %#v", column.Type(), row, want, got)
			}
		}
	}
}

// equalValues treats a nil and an empty list (or byte string) as equal: the wire does not tell them apart.
func equalValues(a, b any) bool {
	if reflect.DeepEqual(a, b) {
		return true
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	return va.Kind() == reflect.Slice && vb.Kind() == reflect.Slice && va.Len() == 0 && vb.Len() == 0
}

func TestColumnOfPicksTheGoType(t *testing.T) {
	var c Column = Float64s(1.5)
	if v, ok := ColumnOf[float64](c); !ok || v.Data[0] != 1.5 {
		t.Fatalf("ColumnOf[float64] = %v, %v", v, ok)
	}
	if _, ok := ColumnOf[int64](c); ok {
		t.Fatal("ColumnOf[int64] of a double column succeeded")
	}
}

func TestNullRowBeyondTheColumnIsAnError(t *testing.T) {
	p := Int64s(1).toProto()
	p.NullRows = []uint32{3}
	if _, err := fromProto(p); err == nil {
		t.Fatal("a null row past the end was accepted")
	}
}
