"""The retry policy: UNAVAILABLE only, bounded, within the deadline; writes only with their key."""

from __future__ import annotations

import grpc
import pytest

from tessera_client import Client, DeadlineExceeded, RetryPolicy, Unavailable
from tessera_client._retry import call_with_retry
from tessera_client.errors import PROBLEMS_METADATA_KEY, InvalidArgument, from_rpc_error


class FakeRpcError(grpc.RpcError):
    """What a failed grpc call raises: an RpcError that is also a Call (code, details, trailers)."""

    def __init__(self, code: grpc.StatusCode, details: str = "boom", trailers: tuple = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple:
        return self._trailers


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def failing(codes: list[grpc.StatusCode], result: str = "ok"):
    calls: list[float] = []

    def attempt(remaining: float) -> str:
        calls.append(remaining)
        if len(calls) <= len(codes):
            raise FakeRpcError(codes[len(calls) - 1])
        return result

    return attempt, calls


POLICY = RetryPolicy(max_attempts=4, initial_backoff_seconds=0.1, max_backoff_seconds=1.0)


def test_retries_unavailable_with_growing_backoff_until_success() -> None:
    clock = Clock()
    attempt, calls = failing([grpc.StatusCode.UNAVAILABLE] * 3)

    assert call_with_retry(POLICY, 30.0, True, attempt, clock.sleep, clock) == "ok"

    assert len(calls) == 4
    assert len(clock.sleeps) == 3
    assert all(0.05 <= s <= 0.1 for s in clock.sleeps[:1]) and all(0.2 <= s <= 0.4 for s in clock.sleeps[2:])
    # Each attempt gets only what is left of the call's deadline.
    assert calls == sorted(calls, reverse=True) and calls[0] == 30.0


def test_stops_after_max_attempts() -> None:
    clock = Clock()
    attempt, calls = failing([grpc.StatusCode.UNAVAILABLE] * 10)

    with pytest.raises(grpc.RpcError):
        call_with_retry(POLICY, 30.0, True, attempt, clock.sleep, clock)

    assert len(calls) == 4


@pytest.mark.parametrize(
    "code",
    [
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAUTHENTICATED,
    ],
)
def test_never_retries_other_codes(code: grpc.StatusCode) -> None:
    clock = Clock()
    attempt, calls = failing([code])

    with pytest.raises(grpc.RpcError):
        call_with_retry(POLICY, 30.0, True, attempt, clock.sleep, clock)

    assert len(calls) == 1 and clock.sleeps == []


def test_does_not_retry_a_call_marked_unsafe() -> None:
    clock = Clock()
    attempt, calls = failing([grpc.StatusCode.UNAVAILABLE])

    with pytest.raises(grpc.RpcError):
        call_with_retry(POLICY, 30.0, False, attempt, clock.sleep, clock)

    assert len(calls) == 1


def test_does_not_sleep_past_the_deadline() -> None:
    clock = Clock()
    attempt, calls = failing([grpc.StatusCode.UNAVAILABLE] * 10)

    with pytest.raises(grpc.RpcError):
        call_with_retry(POLICY, 0.25, True, attempt, clock.sleep, clock)

    assert clock.now <= 0.25
    assert len(calls) < 4


def test_turns_a_status_and_its_problem_trailer_into_a_typed_error() -> None:
    trailer = b'[{"file":"write v@1","path":"row 3, column x","message":"expected double"}]'
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "bad", ((PROBLEMS_METADATA_KEY, trailer),)))

    assert isinstance(error, InvalidArgument)
    assert error.message == "bad"
    assert [str(p) for p in error.problems] == ["write v@1: row 3, column x: expected double"]


def test_a_write_to_nothing_listening_retries_then_raises_unavailable() -> None:
    # A real channel to a closed port: every attempt ends UNAVAILABLE, so the write (which always
    # carries an idempotency key) is retried and then given up on.
    import pandas as pd

    policy = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)
    with Client("127.0.0.1:1", timeout=5, retry=policy) as client:
        with pytest.raises(Unavailable):
            client.write(pd.DataFrame({"k": [1], "event_timestamp": [0]}), "v")


def test_a_call_without_time_left_raises_deadline_exceeded_without_calling() -> None:
    calls: list[float] = []
    with Client("127.0.0.1:1", timeout=0) as client:
        client._store.GetOnlineFeatures = lambda *args, **kwargs: calls.append(1)  # type: ignore[method-assign]
        with pytest.raises(DeadlineExceeded):
            client.get_online_features(["v:f"], {"k": [1]})
    assert calls == []
