"""Writes against the real server: batching, idempotency keys and typed errors with the problem list."""

from __future__ import annotations

import uuid

import grpc
import pandas as pd
import pytest

from tessera_client import Client, FailedPrecondition, FeatureStatus, InvalidArgument, NotFound
from tessera_client._proto.tessera.v1 import serving_pb2, serving_pb2_grpc, types_pb2


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


def test_a_write_with_default_options_is_the_same_write_as_another_clients(
    client: Client, address: str, new_id, now
) -> None:
    # Go and TypeScript send durability and target unset when not asked for; the server tells writes
    # under one idempotency key apart by the exact request, so the Python client must send them unset
    # too, or the same write retried from another client is refused (conformance vector write-idempotent).
    a = next(new_id)
    key = f"py-{uuid.uuid4().hex}"
    millis = int(now.value // 1_000_000)
    first = client.write(
        pd.DataFrame({"customer_id": [a], "event_timestamp": [now], "purchases": [5]}),
        "customer_stats",
        idempotency_key=key,
    )
    as_another_client_sends_it = serving_pb2.WriteRequest(
        feature_view="customer_stats",
        columns={
            "customer_id": types_pb2.Column(int64_values=types_pb2.Int64List(values=[a])),
            "purchases": types_pb2.Column(int64_values=types_pb2.Int64List(values=[5])),
        },
        event_timestamps=types_pb2.Column(timestamp_values=types_pb2.Int64List(values=[millis])),
        idempotency_key=key,
    )
    with grpc.insecure_channel(address) as channel:
        again = serving_pb2_grpc.FeatureStoreStub(channel).Write(as_another_client_sends_it, timeout=20)

    assert first.rows == 1
    assert (again.rows, again.rows_applied_online) == (first.rows, first.rows_applied_online)


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
