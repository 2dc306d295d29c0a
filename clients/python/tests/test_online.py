"""Online reads against the real server: values, types and per-value statuses."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from tessera_client import Client, FeatureStatus, NotFound


def write_customers(client: Client, ids: list[int], at: pd.Timestamp) -> None:
    client.write(
        pd.DataFrame(
            {
                "customer_id": ids,
                "event_timestamp": [at] * len(ids),
                "loyalty_score": [3.5, None],
                "purchases": [4, 7],
                "segment": ["vip", "new"],
                "vip": [True, False],
                "last_purchase_at": [at - pd.Timedelta(days=1)] * len(ids),
                "embedding": [[0.5, 1.0], [2.0]],
            }
        ),
        "customer_stats",
        target="online",
    )


def test_reads_back_written_values_with_their_statuses(client: Client, new_id, now) -> None:
    a, b, missing = next(new_id), next(new_id), next(new_id)
    at = now - pd.Timedelta(minutes=5)
    write_customers(client, [a, b], at)

    result = client.get_online_features(
        ["customer_stats:*"], {"customer_id": [a, b, missing]}, include_event_timestamps=True
    )

    assert isinstance(result, dict)
    assert result["customer_id"] == [a, b, missing]
    assert result["customer_stats@1:loyalty_score"] == [3.5, None, None]
    # A value written as null is PRESENT (the entity has a row); an unknown entity is NOT_FOUND.
    assert result["customer_stats@1:loyalty_score__status"] == [
        FeatureStatus.PRESENT,
        FeatureStatus.PRESENT,
        FeatureStatus.NOT_FOUND,
    ]
    assert result["customer_stats@1:purchases"] == [4, 7, None]
    assert result["customer_stats@1:segment"] == ["vip", "new", None]
    assert result["customer_stats@1:vip"] == [True, False, None]
    day_before = (at - pd.Timedelta(days=1)).to_pydatetime()
    assert result["customer_stats@1:last_purchase_at"] == [day_before, day_before, None]
    assert result["customer_stats@1:embedding"] == [[0.5, 1.0], [2.0], None]
    assert result["customer_stats@1:purchases__event_timestamp"] == [at.to_pydatetime()] * 2 + [None]
    assert result["customer_stats@1:purchases__event_timestamp"][0].tzinfo == dt.timezone.utc


def test_returns_a_typed_frame(client: Client, new_id, now) -> None:
    a, b, missing = next(new_id), next(new_id), next(new_id)
    write_customers(client, [a, b], now - pd.Timedelta(minutes=1))

    frame = client.get_online_features(
        ["customer_stats:purchases", "customer_stats:vip", "customer_stats:last_purchase_at"],
        {"customer_id": [a, b, missing]},
        as_frame=True,
    )

    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == [
        "customer_id",
        "customer_stats@1:purchases",
        "customer_stats@1:purchases__status",
        "customer_stats@1:vip",
        "customer_stats@1:vip__status",
        "customer_stats@1:last_purchase_at",
        "customer_stats@1:last_purchase_at__status",
    ]
    assert str(frame["customer_stats@1:purchases"].dtype) == "Int64"
    assert str(frame["customer_stats@1:vip"].dtype) == "boolean"
    assert str(frame["customer_stats@1:last_purchase_at"].dtype) == "datetime64[ms, UTC]"
    assert frame["customer_stats@1:purchases"].tolist()[:2] == [4, 7]
    assert frame["customer_stats@1:purchases"].isna().tolist() == [False, False, True]
    assert frame["customer_stats@1:vip__status"].tolist() == ["PRESENT", "PRESENT", "NOT_FOUND"]


def test_marks_values_older_than_the_ttl_expired(client: Client, new_id, now) -> None:
    old, fresh = next(new_id), next(new_id)
    # In cluster mode an entity's Redis key lives as long as the longest TTL of its views: a row in
    # customer_stats (30 days) keeps it, so the sessions value is there to be found too old.
    client.write(
        pd.DataFrame({"customer_id": [old], "event_timestamp": [now], "purchases": [1]}),
        "customer_stats",
        target="online",
    )
    # sessions has a TTL of one hour.
    client.write(
        pd.DataFrame(
            {
                "customer_id": [old, fresh],
                "event_timestamp": [now - pd.Timedelta(hours=2), now - pd.Timedelta(minutes=2)],
                "clicks": [11, 12],
            }
        ),
        "sessions",
        target="online",
    )

    result = client.get_online_features(
        ["sessions:clicks"], {"customer_id": [old, fresh]}, include_event_timestamps=True
    )

    assert result["sessions@1:clicks"] == [None, 12]
    assert result["sessions@1:clicks__status"] == [FeatureStatus.EXPIRED, FeatureStatus.PRESENT]
    # An expired value keeps its stored event time, as the server sends it (conformance vector
    # online-event-timestamps): it tells how old the value is.
    assert result["sessions@1:clicks__event_timestamp"] == [
        (now - pd.Timedelta(hours=2)).to_pydatetime(),
        (now - pd.Timedelta(minutes=2)).to_pydatetime(),
    ]


def test_reads_a_feature_service_and_string_keys(client: Client, new_id, now) -> None:
    a = next(new_id)
    client.write(
        pd.DataFrame({"customer_id": [a], "event_timestamp": [now], "clicks": [5]}), "sessions", target="online"
    )
    product = f"sku-{a}"
    client.write(
        pd.DataFrame({"product_id": [product], "event_timestamp": [now], "price": [9.5]}),
        "product_stats",
        target="online",
    )

    scoring = client.get_online_features(None, {"customer_id": [a]}, feature_service="scoring")
    prices = client.get_online_features(["product_stats:price"], {"product_id": [product, "sku-none"]})

    assert scoring["sessions@1:clicks"] == [5]
    assert scoring["customer_stats@1:loyalty_score__status"] == [FeatureStatus.NOT_FOUND]
    assert prices["product_stats@1:price"] == [9.5, None]


def test_raises_not_found_naming_an_unknown_view(client: Client) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_online_features(["no_such_view:x"], {"customer_id": [1]})
    assert "no_such_view" in caught.value.message



@pytest.mark.parametrize("key", [1.5, True, float("nan")])
def test_refuses_a_join_key_that_is_not_a_whole_number(key: object) -> None:
    # int(1.5) is 1: sending it would silently read entity 1. Refused before any call (no server needed).
    with Client("127.0.0.1:9", timeout=1) as offline:
        with pytest.raises(TypeError, match="join key values must be all str or all int"):
            offline.get_online_features(["customer_stats:purchases"], {"customer_id": [7, key]})
