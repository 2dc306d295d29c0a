"""Columnar values on the wire (tessera.v1.Column) to and from Python values."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._proto.tessera.v1 import types_pb2

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def millis_to_datetime(ms: int) -> dt.datetime:
    """Epoch milliseconds as an aware UTC datetime."""
    return _EPOCH + dt.timedelta(milliseconds=ms)


def _lists(values: Sequence[Any], lengths: Sequence[int]) -> list[list[Any]]:
    out, offset = [], 0
    for n in lengths:
        out.append(list(values[offset : offset + n]))
        offset += n
    return out


def decode_column(column: types_pb2.Column) -> list[Any]:
    """Python values of a column, None for its null rows; timestamps as aware UTC datetimes."""
    kind = column.WhichOneof("kind")
    values: list[Any]
    if kind is None:
        values = []
    elif kind == "timestamp_values":
        values = [millis_to_datetime(v) for v in column.timestamp_values.values]
    elif kind in ("float_list_values", "double_list_values", "int64_list_values", "string_list_values"):
        lists = getattr(column, kind)
        values = _lists(lists.values, lists.lengths)
    else:
        values = list(getattr(column, kind).values)
    for row in column.null_rows:
        if row < len(values):
            values[row] = None
    return values


def _is_null(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def encode_keys(values: Sequence[Any]) -> types_pb2.Column:
    """A join key column: all strings make a string column, else int64."""
    items = list(values)
    if all(isinstance(v, str) for v in items):
        return types_pb2.Column(string_values=types_pb2.StringList(values=items))
    # int() would truncate 1.5 to 1 and read another entity: only whole numbers pass (1001.0 from a
    # float column does), and never bools.
    bad = [
        v
        for v in items
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (float, np.floating)) and not float(v).is_integer())
    ]
    if bad:
        raise TypeError(f"join key values must be all str or all int, got {bad[0]!r}")
    try:
        ints = [int(v) for v in items]
    except (TypeError, ValueError) as error:
        raise TypeError(f"join key values must be all str or all int, got {items[:3]!r}…") from error
    return types_pb2.Column(int64_values=types_pb2.Int64List(values=ints))


def _to_millis(value: Any) -> int:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return int(stamp.value // 1_000_000)


def encode_series(series: pd.Series) -> types_pb2.Column:
    """One DataFrame column as a wire column, typed by its dtype (by its values for object columns).

    The server checks every value against the view's declared type and names the column of any
    mismatch, so this function does not guess at conversions: ints go as int64, floats as double,
    datetimes as timestamps (ms, naive ones read as UTC), lists of floats as double lists (accepted
    for float lists too), and so on.
    """
    name = str(series.name)
    values = series.tolist()
    null_rows = [i for i, v in enumerate(values) if _is_null(v)]
    present = [v for v in values if not _is_null(v)]
    dtype = series.dtype
    column = types_pb2.Column(null_rows=null_rows)
    nulls = set(null_rows)

    def filled(default: Any, convert: Any) -> list[Any]:
        return [default if i in nulls else convert(v) for i, v in enumerate(values)]

    if pd.api.types.is_bool_dtype(dtype) or (present and all(isinstance(v, (bool, np.bool_)) for v in present)):
        column.bool_values.values.extend(filled(False, bool))
    elif pd.api.types.is_integer_dtype(dtype) or (
        present and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in present)
    ):
        column.int64_values.values.extend(filled(0, int))
    elif pd.api.types.is_float_dtype(dtype) or (present and all(isinstance(v, (float, np.floating)) for v in present)):
        column.double_values.values.extend(filled(0.0, float))
    elif pd.api.types.is_datetime64_any_dtype(dtype) or (
        present and all(isinstance(v, (dt.datetime, pd.Timestamp)) for v in present)
    ):
        column.timestamp_values.values.extend(filled(0, _to_millis))
    elif present and all(isinstance(v, str) for v in present):
        column.string_values.values.extend(filled("", str))
    elif present and all(isinstance(v, (bytes, bytearray)) for v in present):
        column.bytes_values.values.extend(filled(b"", bytes))
    elif present and all(isinstance(v, (list, tuple, np.ndarray)) for v in present):
        _encode_lists(column, name, values, nulls, present)
    elif not present:
        column.double_values.values.extend([0.0] * len(values))
    else:
        kinds = sorted({type(v).__name__ for v in present})
        raise TypeError(f"column {name!r}: cannot send values of mixed types {kinds} (use one type per column)")
    return column


def _encode_lists(column: types_pb2.Column, name: str, values: list[Any], nulls: set[int], present: list[Any]) -> None:
    items = [x for v in present for x in list(v)]
    rows = [[] if i in nulls else list(v) for i, v in enumerate(values)]
    lengths = [len(r) for r in rows]
    flat = [x for r in rows for x in r]
    if all(isinstance(x, str) for x in items):
        target = column.string_list_values
    elif all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in items) and items:
        target = column.int64_list_values
        flat = [int(x) for x in flat]
    elif all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) for x in items):
        target = column.double_list_values
        flat = [float(x) for x in flat]
    else:
        raise TypeError(f"column {name!r}: list items must be all numbers or all strings")
    target.values.extend(flat)
    target.lengths.extend(lengths)


def encode_timestamps(series: pd.Series) -> types_pb2.Column:
    """Event times: datetimes (naive = UTC) or epoch ms as timestamp values, strings as RFC 3339 text."""
    values = series.tolist()
    if values and all(isinstance(v, str) for v in values):
        return types_pb2.Column(string_values=types_pb2.StringList(values=values))
    bad = [i for i, v in enumerate(values) if _is_null(v)]
    if bad:
        raise ValueError(f"column {series.name!r}: row {bad[0]} has no event time (every row needs one)")
    return types_pb2.Column(timestamp_values=types_pb2.Int64List(values=[_to_millis(v) for v in values]))
