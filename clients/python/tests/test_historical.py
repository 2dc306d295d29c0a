"""Training sets against the real server: point-in-time values, TTL, passthrough, types from Arrow."""

from __future__ import annotations

import pandas as pd

from tessera_client import Client


def test_returns_point_in_time_values_with_their_types(client: Client, new_id, now) -> None:
    a, b = next(new_id), next(new_id)
    t1 = now - pd.Timedelta(hours=3)
    t2 = now - pd.Timedelta(hours=2)
    # Offline before the answer, so the training set sees it at once.
    client.write(
        pd.DataFrame(
            {
                "customer_id": [a, a, b],
                "event_timestamp": [t1, t2, t1],
                "loyalty_score": [1.5, 2.5, 4.0],
                "purchases": [1, 2, 9],
                "segment": ["new", "regular", "vip"],
                "vip": [False, True, True],
                "last_purchase_at": [t1, t2, t1],
            }
        ),
        "customer_stats",
        durability="sync",
    )
    client.write(
        pd.DataFrame({"customer_id": [a], "event_timestamp": [t1], "clicks": [3]}), "sessions", durability="sync"
    )
    entity_df = pd.DataFrame(
        {
            "customer_id": [a, a, a, b],
            "event_timestamp": [
                t1 - pd.Timedelta(minutes=1),  # before any event: no value
                t1 + pd.Timedelta(minutes=30),  # sees t1
                now,  # sees t2; the sessions value is older than its 1 h TTL
                now,
            ],
            "label": [0, 1, 1, 0],
        }
    )

    training = client.get_historical_features(
        entity_df,
        [
            "customer_stats:loyalty_score",
            "customer_stats:purchases",
            "customer_stats:segment",
            "customer_stats:vip",
            "customer_stats:last_purchase_at",
            "sessions:clicks",
        ],
    )

    assert list(training.columns) == [
        "customer_id",
        "event_timestamp",
        "label",
        "customer_stats__loyalty_score",
        "customer_stats__purchases",
        "customer_stats__segment",
        "customer_stats__vip",
        "customer_stats__last_purchase_at",
        "sessions__clicks",
    ]
    assert training["customer_id"].tolist() == [a, a, a, b]
    assert training["label"].tolist() == [0, 1, 1, 0]
    assert training["event_timestamp"].tolist() == entity_df["event_timestamp"].tolist()
    assert training["customer_stats__loyalty_score"].isna().tolist() == [True, False, False, False]
    assert training["customer_stats__loyalty_score"].tolist()[1:] == [1.5, 2.5, 4.0]
    assert training["customer_stats__purchases"].tolist()[1:] == [1, 2, 9]
    assert training["customer_stats__segment"].tolist()[1:] == ["new", "regular", "vip"]
    assert training["customer_stats__vip"].tolist()[1:] == [False, True, True]
    assert training["customer_stats__last_purchase_at"].tolist()[1:] == [t1, t2, t1]
    assert training["sessions__clicks"].isna().tolist() == [True, False, True, True]
    assert training["sessions__clicks"].tolist()[1] == 3
    dtypes = {name: str(dtype) for name, dtype in training.dtypes.items()}
    assert dtypes["customer_stats__loyalty_score"] == "float64"
    assert dtypes["customer_stats__purchases"] == "Int64"
    assert dtypes["customer_stats__vip"] == "boolean"
    assert dtypes["sessions__clicks"] == "Int64"
    assert dtypes["event_timestamp"] == "datetime64[ms, UTC]"
    assert dtypes["customer_stats__last_purchase_at"] == "datetime64[ms, UTC]"


def test_streams_a_training_set_of_several_chunks_in_input_order(client: Client, new_id, now) -> None:
    ids = [next(new_id) for _ in range(30)]
    at = now - pd.Timedelta(hours=1)
    client.write(
        pd.DataFrame({"customer_id": ids, "event_timestamp": [at] * 30, "purchases": list(range(30))}),
        "customer_stats",
        durability="sync",
    )
    entity_df = pd.DataFrame({"customer_id": list(reversed(ids)), "event_timestamp": [now] * 30})

    training = client.get_historical_features(entity_df, ["customer_stats:purchases"], chunk_rows=7)

    assert training["customer_id"].tolist() == list(reversed(ids))
    assert training["customer_stats__purchases"].tolist() == list(reversed(range(30)))
