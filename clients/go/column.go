package tessera

import (
	"fmt"
	"time"

	"github.com/tessera-fs/tessera/clients/go/tesserapb"
)

// Value is every Go type a column holds, one per Tessera value type: int64, float64 (double),
// string, bool, time.Time (timestamp, millisecond precision, UTC), []byte (bytes), []float32
// (float_list, embeddings), []float64 (double_list), []int64 (int64_list), []string (string_list).
type Value interface {
	int64 | float64 | string | bool | time.Time | []byte | []float32 | []float64 | []int64 | []string
}

// Column is a typed column of rows, as requests and answers carry join keys and features.
// Its concrete type is always *Values[T] for one Value type T.
type Column interface {
	// Type is the Tessera value type of the column.
	Type() tesserapb.ValueType
	// Len is the number of rows.
	Len() int
	// IsNull tells whether row holds no value.
	IsNull(row int) bool
	// Any is row's value as an interface (nil when null).
	Any(row int) any
	toProto() *tesserapb.Column
}

// Values is a column of Go type T: Data holds one entry per row (a null row holds T's zero value)
// and Nulls, when not nil, marks the rows that hold no value.
type Values[T Value] struct {
	Data  []T
	Nulls []bool
}

// Column constructors, one per value type.

// Int64s is an int64 column.
func Int64s(v ...int64) *Values[int64] { return &Values[int64]{Data: v} }

// Float64s is a double column.
func Float64s(v ...float64) *Values[float64] { return &Values[float64]{Data: v} }

// Strings is a string column.
func Strings(v ...string) *Values[string] { return &Values[string]{Data: v} }

// Bools is a bool column.
func Bools(v ...bool) *Values[bool] { return &Values[bool]{Data: v} }

// Times is a timestamp column (millisecond precision).
func Times(v ...time.Time) *Values[time.Time] { return &Values[time.Time]{Data: v} }

// ByteStrings is a bytes column.
func ByteStrings(v ...[]byte) *Values[[]byte] { return &Values[[]byte]{Data: v} }

// Float32Lists is a float_list column (embeddings).
func Float32Lists(v ...[]float32) *Values[[]float32] { return &Values[[]float32]{Data: v} }

// Float64Lists is a double_list column.
func Float64Lists(v ...[]float64) *Values[[]float64] { return &Values[[]float64]{Data: v} }

// Int64Lists is an int64_list column.
func Int64Lists(v ...[]int64) *Values[[]int64] { return &Values[[]int64]{Data: v} }

// StringLists is a string_list column.
func StringLists(v ...[]string) *Values[[]string] { return &Values[[]string]{Data: v} }

// WithNulls marks rows as holding no value and returns c.
func (c *Values[T]) WithNulls(rows ...int) *Values[T] {
	if c.Nulls == nil {
		c.Nulls = make([]bool, len(c.Data))
	}
	for _, r := range rows {
		if r >= 0 && r < len(c.Nulls) {
			c.Nulls[r] = true
		}
	}
	return c
}

// Len is the number of rows.
func (c *Values[T]) Len() int { return len(c.Data) }

// IsNull tells whether row holds no value.
func (c *Values[T]) IsNull(row int) bool { return row < len(c.Nulls) && c.Nulls[row] }

// Get is row's value and whether it has one.
func (c *Values[T]) Get(row int) (T, bool) {
	var zero T
	if row < 0 || row >= len(c.Data) || c.IsNull(row) {
		return zero, false
	}
	return c.Data[row], true
}

// Any is row's value as an interface (nil when null).
func (c *Values[T]) Any(row int) any {
	v, ok := c.Get(row)
	if !ok {
		return nil
	}
	return v
}

// Type is the Tessera value type of T.
func (c *Values[T]) Type() tesserapb.ValueType {
	var zero T
	switch any(zero).(type) {
	case int64:
		return tesserapb.ValueType_VALUE_TYPE_INT64
	case float64:
		return tesserapb.ValueType_VALUE_TYPE_DOUBLE
	case string:
		return tesserapb.ValueType_VALUE_TYPE_STRING
	case bool:
		return tesserapb.ValueType_VALUE_TYPE_BOOL
	case time.Time:
		return tesserapb.ValueType_VALUE_TYPE_TIMESTAMP
	case []byte:
		return tesserapb.ValueType_VALUE_TYPE_BYTES
	case []float32:
		return tesserapb.ValueType_VALUE_TYPE_FLOAT_LIST
	case []float64:
		return tesserapb.ValueType_VALUE_TYPE_DOUBLE_LIST
	case []int64:
		return tesserapb.ValueType_VALUE_TYPE_INT64_LIST
	default:
		return tesserapb.ValueType_VALUE_TYPE_STRING_LIST
	}
}

// ColumnOf is c as a *Values[T], or false when c holds another type.
func ColumnOf[T Value](c Column) (*Values[T], bool) {
	v, ok := c.(*Values[T])
	return v, ok
}

func (c *Values[T]) toProto() *tesserapb.Column {
	out := &tesserapb.Column{}
	for row, null := range c.Nulls {
		if null {
			out.NullRows = append(out.NullRows, uint32(row))
		}
	}
	switch data := any(c.Data).(type) {
	case []int64:
		out.Kind = &tesserapb.Column_Int64Values{Int64Values: &tesserapb.Int64List{Values: data}}
	case []float64:
		out.Kind = &tesserapb.Column_DoubleValues{DoubleValues: &tesserapb.DoubleList{Values: data}}
	case []string:
		out.Kind = &tesserapb.Column_StringValues{StringValues: &tesserapb.StringList{Values: data}}
	case []bool:
		out.Kind = &tesserapb.Column_BoolValues{BoolValues: &tesserapb.BoolList{Values: data}}
	case []time.Time:
		millis := make([]int64, len(data))
		for i, t := range data {
			millis[i] = t.UnixMilli()
		}
		out.Kind = &tesserapb.Column_TimestampValues{TimestampValues: &tesserapb.Int64List{Values: millis}}
	case [][]byte:
		out.Kind = &tesserapb.Column_BytesValues{BytesValues: &tesserapb.BytesList{Values: data}}
	case [][]float32:
		values, lengths := flatten(data)
		out.Kind = &tesserapb.Column_FloatListValues{FloatListValues: &tesserapb.FloatListColumn{Values: values, Lengths: lengths}}
	case [][]float64:
		values, lengths := flatten(data)
		out.Kind = &tesserapb.Column_DoubleListValues{DoubleListValues: &tesserapb.DoubleListColumn{Values: values, Lengths: lengths}}
	case [][]int64:
		values, lengths := flatten(data)
		out.Kind = &tesserapb.Column_Int64ListValues{Int64ListValues: &tesserapb.Int64ListColumn{Values: values, Lengths: lengths}}
	case [][]string:
		values, lengths := flatten(data)
		out.Kind = &tesserapb.Column_StringListValues{StringListValues: &tesserapb.StringListColumn{Values: values, Lengths: lengths}}
	}
	return out
}

func flatten[E any](rows [][]E) ([]E, []uint32) {
	var values []E
	lengths := make([]uint32, len(rows))
	for i, row := range rows {
		values = append(values, row...)
		lengths[i] = uint32(len(row))
	}
	return values, lengths
}

func unflatten[E any](values []E, lengths []uint32) ([][]E, error) {
	rows := make([][]E, len(lengths))
	at := 0
	for i, n := range lengths {
		if at+int(n) > len(values) {
			return nil, fmt.Errorf("list column: row %d reaches past its %d values", i, len(values))
		}
		rows[i] = values[at : at+int(n) : at+int(n)]
		at += int(n)
	}
	return rows, nil
}

func withNullRows[T Value](data []T, nullRows []uint32) (*Values[T], error) {
	c := &Values[T]{Data: data}
	for _, r := range nullRows {
		if int(r) >= len(data) {
			return nil, fmt.Errorf("column of %d rows names null row %d", len(data), r)
		}
		if c.Nulls == nil {
			c.Nulls = make([]bool, len(data))
		}
		c.Nulls[r] = true
	}
	return c, nil
}

// fromProto decodes a column of an answer.
func fromProto(c *tesserapb.Column) (Column, error) {
	nulls := c.GetNullRows()
	switch kind := c.GetKind().(type) {
	case *tesserapb.Column_Int64Values:
		return withNullRows(kind.Int64Values.GetValues(), nulls)
	case *tesserapb.Column_DoubleValues:
		return withNullRows(kind.DoubleValues.GetValues(), nulls)
	case *tesserapb.Column_StringValues:
		return withNullRows(kind.StringValues.GetValues(), nulls)
	case *tesserapb.Column_BoolValues:
		return withNullRows(kind.BoolValues.GetValues(), nulls)
	case *tesserapb.Column_TimestampValues:
		millis := kind.TimestampValues.GetValues()
		times := make([]time.Time, len(millis))
		for i, m := range millis {
			times[i] = time.UnixMilli(m).UTC()
		}
		return withNullRows(times, nulls)
	case *tesserapb.Column_BytesValues:
		return withNullRows(kind.BytesValues.GetValues(), nulls)
	case *tesserapb.Column_FloatListValues:
		rows, err := unflatten(kind.FloatListValues.GetValues(), kind.FloatListValues.GetLengths())
		if err != nil {
			return nil, err
		}
		return withNullRows(rows, nulls)
	case *tesserapb.Column_DoubleListValues:
		rows, err := unflatten(kind.DoubleListValues.GetValues(), kind.DoubleListValues.GetLengths())
		if err != nil {
			return nil, err
		}
		return withNullRows(rows, nulls)
	case *tesserapb.Column_Int64ListValues:
		rows, err := unflatten(kind.Int64ListValues.GetValues(), kind.Int64ListValues.GetLengths())
		if err != nil {
			return nil, err
		}
		return withNullRows(rows, nulls)
	case *tesserapb.Column_StringListValues:
		rows, err := unflatten(kind.StringListValues.GetValues(), kind.StringListValues.GetLengths())
		if err != nil {
			return nil, err
		}
		return withNullRows(rows, nulls)
	default:
		return nil, fmt.Errorf("column holds no typed values (kind %T)", kind)
	}
}
