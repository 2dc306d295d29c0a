"""Conformance runner of the Python client (conformance/README.md).

Replays conformance/vectors/*.json against a running server twice:

1. ``[python]`` through the package's generated stubs (``tessera_client._proto``): each request is
   parsed from proto3 JSON (``json_format.ParseDict``), sent, and the response converted back with
   ``json_format.MessageToDict`` (lowerCamelCase names, enums by name, int64 as strings, defaults
   omitted), then normalised and compared as the README says.
2. ``[python-client]`` through the client's own API, every vector it can express: GetOnlineFeatures
   through ``Client.get_online_features`` (its dict answer turned into the README's rows view; the
   same read with ``as_frame=True`` must give the same rows),
   Write through ``Client.write`` (a DataFrame built from the request's columns), and failures
   through the typed exceptions (``TesseraError``: code, message, problems).

Environment (set by test/conformance/conformance.test.ts, which also performs the setup writes):
  TESSERA_CONFORMANCE_TARGET   host:port of the server (plaintext)
  TESSERA_CONFORMANCE_NOW_MS   the run's NOW in ms since the epoch (the setup used the same one)
  TESSERA_CONFORMANCE_DIR      the conformance/ folder (default: ../../../../conformance from here)
  TESSERA_CONFORMANCE_ANSWERS  where to write the answers as JSON ({vector name: answer}); optional
  TESSERA_CONFORMANCE_CLIENT_ANSWERS  where to write the client-level answers ({vector name:
                               {"rows": …} | {"response": …} | {"error": …}}, expressible vectors only)

Prints ``[python] vector <name> (<file>): <why>`` (``[python-client]`` for the second pass) with the
expected and actual answer for each mismatch and exits 1 if there was one, 0 otherwise.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

import grpc
import pandas as pd
from google.protobuf import json_format

from tessera_client import EVENT_TIMESTAMP_SUFFIX, STATUS_SUFFIX, Client, TesseraError
from tessera_client._proto.tessera.v1 import registry_pb2, registry_pb2_grpc, serving_pb2, serving_pb2_grpc

RUNNER = "python"
CLIENT_RUNNER = "python-client"
PROBLEMS_TRAILER = "tessera-problems-bin"
NOW_PATTERN = re.compile(r"^\$\{now(?:([+-])(\d+)(ms|s|m|h|d))?\}$")
UNIT_MILLIS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
CALL_TIMEOUT_SECONDS = 30


def substitute_now(value: Any, now_ms: int) -> Any:
    """``${now}`` / ``${now-2h}`` strings replaced by decimal ms strings relative to ``now_ms``."""
    if isinstance(value, dict):
        return {k: substitute_now(v, now_ms) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_now(v, now_ms) for v in value]
    if isinstance(value, str):
        match = NOW_PATTERN.match(value)
        if match:
            sign, n, unit = match.groups()
            offset = 0 if sign is None else (-1 if sign == "-" else 1) * int(n) * UNIT_MILLIS[unit]
            return str(now_ms + offset)
    return value


_ABSENT = object()


def _strip_defaults(value: Any) -> Any:
    if isinstance(value, list):
        # Inside a list every element counts (a 0 or "" is a row): only nested objects are cleaned.
        if not value:
            return _ABSENT
        return [_or_empty(_strip_defaults(v)) if isinstance(v, dict) else v for v in value]
    if isinstance(value, dict):
        out = {}
        for key in sorted(value):
            cleaned = _strip_defaults(value[key])
            if cleaned is not _ABSENT:
                out[key] = cleaned
        return out if out else _ABSENT
    if value is None or value is False or value == "" or value == "0":
        return _ABSENT
    if not isinstance(value, bool) and isinstance(value, (int, float)) and value == 0:
        return _ABSENT
    if isinstance(value, str) and value.endswith("_UNSPECIFIED"):
        return _ABSENT
    return value


def _or_empty(value: Any) -> Any:
    return {} if value is _ABSENT else value


def _drop_path(value: Any, path: list[str]) -> Any:
    if isinstance(value, list):
        return [_drop_path(v, path) for v in value]
    if not isinstance(value, dict) or not path or path[0] not in value:
        return value
    copy = dict(value)
    if len(path) == 1:
        del copy[path[0]]
    else:
        copy[path[0]] = _drop_path(copy[path[0]], path[1:])
    return copy


def normalise(value: Any, ignore: list[str] | None = None) -> Any:
    """Drops default values and the ``ignore`` paths, as test/conformance/vectors.ts ``normalise``."""
    out = _strip_defaults(value)
    for path in ignore or []:
        out = _drop_path(out, path.split("."))
    return _or_empty(out)


def json_equal(a: Any, b: Any) -> bool:
    """JSON value equality: numbers by value (1 == 1.0), but a bool is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def mismatch(vector: dict[str, Any], answer: dict[str, Any], now_ms: int) -> str | None:
    """Why ``answer`` does not meet the vector's expectation, or None when it does."""
    expected = substitute_now(vector["expect"], now_ms)
    if "error" in expected:
        want = expected["error"]
        if "error" not in answer:
            return "expected an error, got a response"
        got = answer["error"]
        problems = []
        if got["code"] != want["code"]:
            problems.append(f"code {got['code']} ≠ {want['code']}")
        for part in want.get("messageContains", []):
            if part not in got["message"]:
                problems.append(f"message lacks {json.dumps(part, ensure_ascii=False)}")
        if "problems" in want and not json_equal(got["problems"], want["problems"]):
            problems.append("problem list differs")
        return "; ".join(problems) or None
    if "response" not in answer:
        return f"expected a response, got {answer['error']['code']}: {answer['error']['message']}"
    ignore = expected.get("ignore", [])
    same = json_equal(normalise(answer["response"], ignore), normalise(expected.get("response"), ignore))
    return None if same else "response differs"


def compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def report(vector: dict[str, Any], why: str, answer: dict[str, Any], now_ms: int, runner: str = RUNNER) -> str:
    expected = substitute_now(vector["expect"], now_ms)
    ignore = expected.get("ignore", [])
    want = expected["error"] if "error" in expected else normalise(expected.get("response"), ignore)
    got = normalise(answer["response"], ignore) if "response" in answer else answer["error"]
    if "rows" in answer:
        want = expected["error"] if "error" in expected else expected_rows(vector, now_ms)
        got = answer["rows"]
    return "\n".join(
        [
            f"[{runner}] vector {vector['name']} ({vector['file']}): {why}",
            f"  expected: {compact(want)}",
            f"  actual:   {compact(got)}",
        ]
    )


def load_json_files(folder: Path) -> list[tuple[str, Any]]:
    return [(p.name, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(folder.glob("*.json"))]


class Caller:
    """The vectors' unary methods, by ``rpc`` name: request and response message types and the stub call."""

    def __init__(self, channel: grpc.Channel):
        store = serving_pb2_grpc.FeatureStoreStub(channel)
        registry = registry_pb2_grpc.RegistryStub(channel)
        self.methods: dict[str, tuple[type, Callable[..., Any]]] = {
            "tessera.v1.FeatureStore/GetOnlineFeatures": (
                serving_pb2.GetOnlineFeaturesRequest,
                store.GetOnlineFeatures,
            ),
            "tessera.v1.FeatureStore/Write": (serving_pb2.WriteRequest, store.Write),
            "tessera.v1.Registry/Get": (registry_pb2.GetRequest, registry.Get),
        }

    def call(self, rpc: str, request: Any) -> dict[str, Any]:
        if rpc not in self.methods:
            raise SystemExit(f"[{RUNNER}] the Python runner does not know rpc {rpc}")
        message_type, method = self.methods[rpc]
        message = json_format.ParseDict(request, message_type())
        try:
            response = method(message, timeout=CALL_TIMEOUT_SECONDS)
        except grpc.RpcError as error:
            return {"error": error_answer(error)}
        return {"response": json_format.MessageToDict(response)}


def error_answer(error: grpc.RpcError) -> dict[str, Any]:
    code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
    problems: list[Any] = []
    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == PROBLEMS_TRAILER:
            problems.extend(json.loads(value.decode("utf-8") if isinstance(value, bytes) else value))
    return {"code": code.name, "message": error.details() or "", "problems": problems}  # type: ignore[attr-defined]


# -- the client's own API (the [python-client] pass) ----------------------------------------------

ONLINE_RPC = "tessera.v1.FeatureStore/GetOnlineFeatures"
WRITE_RPC = "tessera.v1.FeatureStore/Write"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_LIST_KINDS = {"floatListValues", "doubleListValues", "int64ListValues", "stringListValues"}
#: Write vectors' target and durability names -> the client's keyword values.
_WRITE_TARGETS = {
    "WRITE_TARGET_ONLINE_AND_OFFLINE": "online_and_offline",
    "WRITE_TARGET_ONLINE": "online",
    "WRITE_TARGET_OFFLINE": "offline",
}
_DURABILITIES = {
    "DURABILITY_WRITE_BEHIND": "write_behind",
    "DURABILITY_SYNC": "sync",
    "DURABILITY_REPLICATED": "replicated",
}
#: The event-time column of the DataFrames built for writes (no vector has a column of that name).
_EVENT_TIME_COLUMN = "__conformance_event_time"


class NotExpressible(Exception):
    """The client's API cannot say this request (e.g. a double join key column): the vector is skipped."""


def expected_rows(vector: dict[str, Any], now_ms: int) -> list[dict[str, Any]]:
    """The rows view (conformance/README.md "Client-level comparison") of the vector's expected response,
    without ``type``: the client's dict answer carries none (each value's form shows its type)."""
    request = vector["request"]
    response = substitute_now(vector["expect"], now_ms).get("response") or {}
    with_timestamps = bool(request.get("includeEventTimestamps"))
    view = []
    for feature in response.get("features", []):
        column = feature.get("values", {})
        nulls = set(column.get("nullRows", []))
        kind = next((k for k in column if k != "nullRows"), None)
        typed = column.get(kind, {}) if kind else {}
        flat, lengths = typed.get("values", []), typed.get("lengths", [])
        statuses = feature.get("statuses", [])
        stamps = feature.get("eventTimestamps", [])
        rows, offset = [], 0
        for i, status in enumerate(statuses):
            if kind in _LIST_KINDS:
                n = lengths[i] if i < len(lengths) else 0
                value: Any = flat[offset : offset + n]
                offset += n
            else:
                value = flat[i] if i < len(flat) else None
            row: dict[str, Any] = {
                "status": status.replace("FEATURE_STATUS_", ""),
                "value": None if i in nulls else value,
            }
            if with_timestamps:
                row["eventTimestamp"] = stamps[i] if i < len(stamps) else "0"
            rows.append(row)
        view.append({"ref": feature["ref"], "rows": rows})
    return view


def _millis(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def row_value(value: Any) -> Any:
    """A value of the client's answer in the rows view's JSON form: int64 and timestamps as decimal
    strings (ms), floats as numbers, bytes as base64, lists element by element."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.datetime):
        return str(_millis(value))
    if isinstance(value, list):
        return [row_value(v) for v in value]
    raise TypeError(f"get_online_features returned a {type(value).__name__} value: {value!r}")


def rows_of(result: dict[str, list[Any]], with_timestamps: bool) -> list[dict[str, Any]]:
    """The rows view of ``get_online_features``' dict: its feature columns are the keys holding a ref
    (``view@1:feature``, always with a colon; join keys never have one), in the answer's order."""
    view = []
    for key, values in result.items():
        if ":" not in key or key.endswith(STATUS_SUFFIX) or key.endswith(EVENT_TIMESTAMP_SUFFIX):
            continue
        statuses = result[key + STATUS_SUFFIX]
        stamps = result.get(key + EVENT_TIMESTAMP_SUFFIX)
        rows = []
        for i, (value, status) in enumerate(zip(values, statuses)):
            row: dict[str, Any] = {"status": str(status), "value": row_value(value)}
            if with_timestamps:
                stamp = stamps[i] if stamps is not None else None
                row["eventTimestamp"] = "0" if stamp is None else str(_millis(stamp))
            rows.append(row)
        view.append({"ref": key, "rows": rows})
    return view


def typed_error_answer(error: TesseraError) -> dict[str, Any]:
    problems = []
    for p in error.problems:
        problem = {"path": p.path, "message": p.message}
        if p.file is not None:
            problem["file"] = p.file
        problems.append(problem)
    return {"code": error.code.name, "message": error.message, "problems": problems}


def _only(request: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(request) - allowed)
    if extra:
        raise NotExpressible(f"fields {extra}")


def _entities(request: dict[str, Any]) -> dict[str, list[int | str]]:
    entities: dict[str, list[int | str]] = {}
    for name, column in request.get("entities", {}).items():
        if set(column) == {"int64Values"}:
            entities[name] = [int(v) for v in column["int64Values"].get("values", [])]
        elif set(column) == {"stringValues"}:
            entities[name] = list(column["stringValues"].get("values", []))
        else:
            raise NotExpressible(f"join key {name} as {sorted(column)} (the API takes ints or strs)")
    return entities


def _series(name: str, column: dict[str, Any]) -> pd.Series:
    """A proto3 JSON column as the DataFrame column ``write`` sends as the same wire column."""
    nulls = set(column.get("nullRows", []))
    kinds = [k for k in column if k != "nullRows"]
    if len(kinds) != 1:
        raise NotExpressible(f"column {name} with kinds {kinds}")
    kind = kinds[0]
    values = column[kind].get("values", [])
    if not values:
        raise NotExpressible(f"column {name} holds no values")
    converters: dict[str, tuple[Any, str]] = {
        "int64Values": (int, "Int64"),
        "doubleValues": (float, "float64"),
        "stringValues": (str, "object"),
        "boolValues": (bool, "boolean"),
    }
    if kind not in converters:
        raise NotExpressible(f"column {name} of kind {kind}")
    convert, dtype = converters[kind]
    data = [None if i in nulls else convert(v) for i, v in enumerate(values)]
    if all(v is None for v in data):
        raise NotExpressible(f"column {name} holds only nulls (its wire type would be a guess)")
    return pd.Series(data, dtype=dtype, name=name)


def _write_frame(request: dict[str, Any]) -> pd.DataFrame:
    stamps = request.get("eventTimestamps", {})
    if set(stamps) == {"stringValues"}:
        times: list[Any] = list(stamps["stringValues"].get("values", []))
    elif set(stamps) == {"timestampValues"}:
        times = [int(v) for v in stamps["timestampValues"].get("values", [])]
    else:
        raise NotExpressible(f"event times as {sorted(stamps)}")
    columns = {name: _series(name, column) for name, column in request.get("columns", {}).items()}
    if any(len(s) != len(times) for s in columns.values()):
        raise NotExpressible("columns of different lengths (a DataFrame cannot hold them)")
    return pd.DataFrame({**columns, _EVENT_TIME_COLUMN: times})


def _lookup(table: dict[str, str], name: str, what: str) -> str:
    if name not in table:
        raise NotExpressible(f"{what} {name}")
    return table[name]


def client_call(client: Client, vector: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The vector through the client's API: {"rows": …}, {"response": …} or {"error": …}."""
    if vector["rpc"] == ONLINE_RPC:
        _only(request, {"features", "featureService", "entities", "includeEventTimestamps"})
        entities = _entities(request)
        with_timestamps = bool(request.get("includeEventTimestamps"))
        try:
            result = client.get_online_features(
                request.get("features") or None,
                entities,
                feature_service=request.get("featureService") or None,
                include_event_timestamps=with_timestamps,
            )
        except TesseraError as error:
            return {"error": typed_error_answer(error)}
        assert isinstance(result, dict)
        return {"rows": rows_of(result, with_timestamps)}
    if vector["rpc"] == WRITE_RPC:
        _only(request, {"featureView", "columns", "eventTimestamps", "target", "durability", "idempotencyKey"})
        frame = _write_frame(request)
        # Absent: None, which the client sends unset, as the vector does.
        target = _lookup(_WRITE_TARGETS, request["target"], "target") if "target" in request else None
        durability = _lookup(_DURABILITIES, request["durability"], "durability") if "durability" in request else None
        try:
            written = client.write(
                frame,
                request.get("featureView", ""),
                timestamp_column=_EVENT_TIME_COLUMN,
                target=target,  # type: ignore[arg-type]
                durability=durability,  # type: ignore[arg-type]
                idempotency_key=request.get("idempotencyKey"),
            )
        except TesseraError as error:
            return {"error": typed_error_answer(error)}
        response = {
            "rows": str(written.rows),
            "rowsAppliedOnline": str(written.rows_applied_online),
            "rowsStaleOnline": str(written.rows_stale_online),
        }
        return {"response": response}
    raise NotExpressible(f"rpc {vector['rpc']} (the client has no call for it)")


def client_mismatch(vector: dict[str, Any], answer: dict[str, Any], now_ms: int) -> str | None:
    """As ``mismatch``, and a rows answer is compared with the rows view of the expected response."""
    if "rows" not in answer:
        return mismatch(vector, answer, now_ms)
    expected = vector["expect"]
    if "error" in expected:
        return "expected an error, got a response"
    return None if json_equal(answer["rows"], expected_rows(vector, now_ms)) else "rows differ"


def _frame_value(value: Any) -> Any:
    """A DataFrame cell as the dict answer holds it: pandas' missing markers (NA, NaT, NaN) as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    return value


def frame_rows(frame: pd.DataFrame, with_timestamps: bool) -> list[dict[str, Any]]:
    """The rows view of ``get_online_features(..., as_frame=True)``: its typed columns (``Int64``,
    ``boolean``, ``datetime64[ms, UTC]``, …) read back cell by cell."""
    columns = {str(name): [_frame_value(v) for v in frame[name].tolist()] for name in frame.columns}
    return rows_of(columns, with_timestamps)


def frame_check(client: Client, vector: dict[str, Any], request: dict[str, Any], rows: Any) -> str | None:
    """The same read with ``as_frame=True`` must give the same rows view as the dict answer."""
    with_timestamps = bool(request.get("includeEventTimestamps"))
    frame = client.get_online_features(
        request.get("features") or None,
        _entities(request),
        feature_service=request.get("featureService") or None,
        include_event_timestamps=with_timestamps,
        as_frame=True,
    )
    assert isinstance(frame, pd.DataFrame)
    got = frame_rows(frame, with_timestamps)
    if json_equal(got, rows):
        return None
    return "\n".join(
        [
            f"[{CLIENT_RUNNER}] vector {vector['name']} ({vector['file']}): as_frame=True differs from the dict answer",
            f"  dict:     {compact(rows)}",
            f"  as_frame: {compact(got)}",
        ]
    )


def replay_client(target: str, vectors: list[dict[str, Any]], now_ms: int) -> tuple[dict[str, Any], list[str], int]:
    """The [python-client] pass: answers of the expressible vectors, failure reports, skipped count."""
    answers: dict[str, Any] = {}
    failures: list[str] = []
    skipped: list[str] = []
    with Client(target, timeout=CALL_TIMEOUT_SECONDS) as client:
        for vector in vectors:
            try:
                answer = client_call(client, vector, substitute_now(vector["request"], now_ms))
            except NotExpressible as why:
                skipped.append(f"{vector['name']} ({why})")
                continue
            answers[vector["name"]] = answer
            why = client_mismatch(vector, answer, now_ms)
            if why is not None:
                failures.append(report(vector, why, answer, now_ms, CLIENT_RUNNER))
            elif "rows" in answer:
                frame_failure = frame_check(client, vector, substitute_now(vector["request"], now_ms), answer["rows"])
                if frame_failure is not None:
                    failures.append(frame_failure)
    for name in skipped:
        print(f"[{CLIENT_RUNNER}] not expressible through the client's API: {name}")
    return answers, failures, len(skipped)


def main() -> int:
    target = os.environ.get("TESSERA_CONFORMANCE_TARGET")
    now_text = os.environ.get("TESSERA_CONFORMANCE_NOW_MS")
    if not target or not now_text:
        print(f"[{RUNNER}] set TESSERA_CONFORMANCE_TARGET and TESSERA_CONFORMANCE_NOW_MS", file=sys.stderr)
        return 2
    now_ms = int(now_text)
    default_dir = Path(__file__).resolve().parents[4] / "conformance"
    folder = Path(os.environ.get("TESSERA_CONFORMANCE_DIR") or default_dir)
    vectors = [{"file": name, **body} for name, body in load_json_files(folder / "vectors")]
    if not vectors:
        print(f"[{RUNNER}] no vectors in {folder / 'vectors'}", file=sys.stderr)
        return 2

    answers: dict[str, Any] = {}
    failures: list[str] = []
    with grpc.insecure_channel(target) as channel:
        caller = Caller(channel)
        for vector in vectors:
            answer = caller.call(vector["rpc"], substitute_now(vector["request"], now_ms))
            answers[vector["name"]] = answer
            why = mismatch(vector, answer, now_ms)
            if why is not None:
                failures.append(report(vector, why, answer, now_ms))

    out = os.environ.get("TESSERA_CONFORMANCE_ANSWERS")
    if out:
        Path(out).write_text(json.dumps(answers, ensure_ascii=False, indent=1), encoding="utf-8")
    for failure in failures:
        print(failure)
    print(f"[{RUNNER}] {len(vectors) - len(failures)} of {len(vectors)} vectors passed")

    client_answers, client_failures, skipped = replay_client(target, vectors, now_ms)
    client_out = os.environ.get("TESSERA_CONFORMANCE_CLIENT_ANSWERS")
    if client_out:
        Path(client_out).write_text(json.dumps(client_answers, ensure_ascii=False, indent=1), encoding="utf-8")
    for failure in client_failures:
        print(failure)
    expressed = len(client_answers)
    print(
        f"[{CLIENT_RUNNER}] {expressed - len(client_failures)} of {expressed} vectors passed"
        f" ({skipped} not expressible)"
    )
    return 1 if failures or client_failures else 0


if __name__ == "__main__":
    sys.exit(main())
