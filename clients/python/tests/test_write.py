"""Writes against the real server: batching, idempotency keys and typed errors with the problem list."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from tessera_client import Client, FailedPrecondition, FeatureStatus, InvalidArgument, NotFound


def test_writes_in_batches_and_reads_every_row_back(client: Client, new_id, now) -> None:
    ids = [next(new_id) for _ in range(25)]
    frame = pd.DataFrame(
        {"customer_id": ids, "event_timestamp": [now] * 25, "purchases": list(range(25)), "segment": ["x"] * 25}
    )

    result = client.write(frame, "customer_stats", batch_rows=10)

    assert (result.rows, result.batches, result.rows_applied_online) == (25, 3, 25)
    read = client.get_online_features(["customer_stats:purchases"], {"customer_id": ids})
    assert read["customer_stats@1:purchases"] == list(range(25))
    assert set(read["customer_stats@1:purchases__status"]) == {FeatureStatus.PRESENT}


def test_applies_a_repeated_write_with_the_same_idempotency_key_once(client: Client, new_id, now) -> None:
    a = next(new_id)
    key = f"py-{uuid.uuid4().hex}"
    first = pd.DataFrame({"customer_id": [a], "event_timestamp": [now], "purchases": [1]})
    client.write(first, "customer_stats", idempotency_key=key, target="online")
    # A newer event under the same key and the same rows would be a different write: refused.
    newer = pd.DataFrame({"customer_id": [a], "event_timestamp": [now + pd.Timedelta(seconds=1)], "purchases": [2]})

    again = client.write(first, "customer_stats", idempotency_key=key, target="online")
    with pytest.raises(FailedPrecondition) as caught:
        client.write(newer, "customer_stats", idempotency_key=key, target="online")

    assert again.rows == 1
    assert "idempotency key" in caught.value.message
    read = client.get_online_features(["customer_stats:purchases"], {"customer_id": [a]})
    assert read["customer_stats@1:purchases"] == [1]


def test_rejects_a_bad_type_naming_the_column_and_writes_nothing(client: Client, new_id, now) -> None:
    a = next(new_id)
    frame = pd.DataFrame({"customer_id": [a], "event_timestamp": [now], "loyalty_score": ["high"]})

    with pytest.raises(InvalidArgument) as caught:
        client.write(frame, "customer_stats")

    error = caught.value
    assert error.code.name == "INVALID_ARGUMENT"
    assert "column loyalty_score" in error.message
    assert any("loyalty_score" in str(p) for p in error.problems)
    read = client.get_online_features(["customer_stats:loyalty_score"], {"customer_id": [a]})
    assert read["customer_stats@1:loyalty_score__status"] == [FeatureStatus.NOT_FOUND]


def test_carries_every_problem_of_a_rejected_batch(client: Client, new_id, now) -> None:
    ids = [next(new_id), next(new_id), next(new_id)]
    frame = pd.DataFrame({"customer_id": ids, "event_timestamp": [now] * 3, "loyalty_score": [7.0, 1.0, 9.0]})

    with pytest.raises(InvalidArgument) as caught:
        client.write(frame, "customer_stats")

    problems = caught.value.problems
    assert [p.path for p in problems] == ["row 0, column loyalty_score", "row 2, column loyalty_score"]
    assert all("above max 5" in p.message for p in problems)


def test_raises_not_found_for_an_unknown_view(client: Client, now) -> None:
    with pytest.raises(NotFound):
        client.write(pd.DataFrame({"customer_id": [1], "event_timestamp": [now], "x": [1.0]}), "no_such_view")


def test_writes_nothing_for_an_empty_frame(client: Client) -> None:
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype="int64"), "event_timestamp": pd.Series([], dtype="int64")})
    assert client.write(empty, "customer_stats").batches == 0
