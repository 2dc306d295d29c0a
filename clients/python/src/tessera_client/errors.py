"""Typed errors: one class per gRPC status code, each carrying the server's problem list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import grpc

#: Trailing metadata key in which the server sends the JSON list of problems (file, path, message).
PROBLEMS_METADATA_KEY = "tessera-problems-bin"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where (``path``, e.g. ``row 17, column loyalty_score``) and which rule."""

    path: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.path) if p)
        return f"{where}: {self.message}" if where else self.message


class TesseraError(Exception):
    """A failed call: the gRPC status code, the server's message and its problems.

    ``problems`` holds every problem the server listed (each bad row, column and rule of an
    INVALID_ARGUMENT; the message names the first); [] when the error is not about itemised input
    (an unknown view, a refused key), as in the Go and TypeScript clients.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, problems: list[Problem] | None = None, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        self.problems: list[Problem] = list(problems) if problems else []
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"


class InvalidArgument(TesseraError):
    """The request breaks a rule (type, constraint, unknown name); nothing was written."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(TesseraError):
    """A feature view, feature, entity or service that does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(TesseraError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(TesseraError):
    """E.g. an idempotency key reused for a different write."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unauthenticated(TesseraError):
    """No API key, or one the server does not know (revoked, mistyped)."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(TesseraError):
    """The API key lacks the scope the call needs (read, write or admin)."""

    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhausted(TesseraError):
    """A limit was reached (rate limit, a full training-set lane, message size)."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unavailable(TesseraError):
    """The server or one of its backends could not be reached; retried by the client (bounded)."""

    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(TesseraError):
    """The call's deadline passed."""

    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unimplemented(TesseraError):
    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(TesseraError):
    """A server bug; the message holds an id under which the server logged the details."""

    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[TesseraError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument,
        NotFound,
        AlreadyExists,
        FailedPrecondition,
        Unauthenticated,
        PermissionDenied,
        ResourceExhausted,
        Unavailable,
        DeadlineExceeded,
        Unimplemented,
        Internal,
    )
}
# The server cancels calls it cannot finish (a shutdown past its grace period): as good as unavailable.
_BY_CODE[grpc.StatusCode.CANCELLED] = Unavailable
_BY_CODE[grpc.StatusCode.OUT_OF_RANGE] = InvalidArgument


def parse_problems(raw: bytes | str | None) -> list[Problem]:
    """The problem list of the ``tessera-problems-bin`` trailer; [] when absent or unreadable."""
    if raw is None:
        return []
    try:
        parsed: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(parsed, list):
        return []
    problems = []
    for item in parsed:
        if isinstance(item, dict):
            file = item.get("file")
            problems.append(
                Problem(
                    path=str(item.get("path", "")),
                    message=str(item.get("message", "")),
                    file=str(file) if file is not None else None,
                )
            )
    return problems


def from_rpc_error(error: grpc.RpcError) -> TesseraError:
    """The typed error of a failed call (``error`` is a grpc.Call as well as an RpcError)."""
    code: grpc.StatusCode = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN  # type: ignore[attr-defined]
    message = (error.details() if hasattr(error, "details") else None) or str(error)  # type: ignore[attr-defined]
    raw = None
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None  # type: ignore[attr-defined]
    for key, value in trailers or ():
        if key == PROBLEMS_METADATA_KEY:
            raw = value
    cls = _BY_CODE.get(code, TesseraError)
    result = cls(message, parse_problems(raw), code=None if cls is not TesseraError else code)
    result.__cause__ = error
    return result
