"""The retry policy: UNAVAILABLE only, a bounded number of times, with exponential backoff and jitter."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import grpc

T = TypeVar("T")


class DeadlinePassed(grpc.RpcError):
    """The call's deadline passed before an attempt could start: DEADLINE_EXCEEDED, raised locally."""

    def __init__(self, attempts: int) -> None:
        super().__init__()
        self._attempts = attempts

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.DEADLINE_EXCEEDED

    def details(self) -> str:
        return f"the call's deadline passed after {self._attempts} attempt(s)"

    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        return ()


@dataclass(frozen=True)
class RetryPolicy:
    """How calls that end UNAVAILABLE are retried.

    Only UNAVAILABLE is retried: the call did not reach a server, or the server could not reach a
    backend, so trying again is safe for reads. A write is retried only when it carries an
    idempotency key (the server then applies it once, whatever the number of attempts). Every other
    code is the answer and is raised at once. Attempts stop at ``max_attempts`` or at the call's
    deadline, whichever comes first.
    """

    max_attempts: int = 4
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 1.0
    multiplier: float = 2.0

    def backoff(self, attempt: int) -> float:
        """Sleep before attempt ``attempt + 1`` (attempt counts from 1): full jitter up to the capped exponential."""
        cap = min(self.max_backoff_seconds, self.initial_backoff_seconds * self.multiplier ** (attempt - 1))
        return random.uniform(cap / 2, cap)


def call_with_retry(
    policy: RetryPolicy,
    deadline: float,
    retryable: bool,
    attempt_call: Callable[[float], T],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Runs ``attempt_call(remaining_seconds)`` until it succeeds or fails with a code not to retry.

    ``deadline`` is a ``clock()`` value: every attempt gets only the time left of the whole call.
    """
    attempt = 1
    while True:
        remaining = deadline - clock()
        if remaining <= 0:
            raise DeadlinePassed(attempt - 1)
        try:
            return attempt_call(remaining)
        except grpc.RpcError as error:
            code = error.code() if hasattr(error, "code") else None  # type: ignore[attr-defined]
            if not retryable or code != grpc.StatusCode.UNAVAILABLE or attempt >= policy.max_attempts:
                raise
            pause = policy.backoff(attempt)
            if clock() + pause >= deadline:
                raise
            sleep(pause)
            attempt += 1
