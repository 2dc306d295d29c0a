"""Conformance runner of the Python client (conformance/README.md).

Replays conformance/vectors/*.json against a running server through the package's generated stubs
(``tessera_client._proto``): each request is parsed from proto3 JSON (``json_format.ParseDict``), sent,
and the response converted back with ``json_format.MessageToDict`` (lowerCamelCase names, enums by
name, int64 as strings, defaults omitted), then normalised and compared as the README says.

Environment (set by test/conformance/conformance.test.ts, which also performs the setup writes):
  TESSERA_CONFORMANCE_TARGET   host:port of the server (plaintext)
  TESSERA_CONFORMANCE_NOW_MS   the run's NOW in ms since the epoch (the setup used the same one)
  TESSERA_CONFORMANCE_DIR      the conformance/ folder (default: ../../../../conformance from here)
  TESSERA_CONFORMANCE_ANSWERS  where to write the answers as JSON ({vector name: answer}); optional

Prints ``[python] vector <name> (<file>): <why>`` with the expected and actual answer for each
mismatch and exits 1 if there was one, 0 otherwise.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable

import grpc
from google.protobuf import json_format

from tessera_client._proto.tessera.v1 import registry_pb2, registry_pb2_grpc, serving_pb2, serving_pb2_grpc

RUNNER = "python"
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


def report(vector: dict[str, Any], why: str, answer: dict[str, Any], now_ms: int) -> str:
    expected = substitute_now(vector["expect"], now_ms)
    ignore = expected.get("ignore", [])
    want = expected["error"] if "error" in expected else normalise(expected.get("response"), ignore)
    got = normalise(answer["response"], ignore) if "response" in answer else answer["error"]
    return "\n".join(
        [
            f"[{RUNNER}] vector {vector['name']} ({vector['file']}): {why}",
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
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
