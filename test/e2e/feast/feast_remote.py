"""Feast's side of test/e2e/feast-remote.test.ts, run in the pinned Feast venv (bench/feast/requirements.txt).

  setup <repo_dir>                 writes a Feast repository (entity, file source, push source, a view
                                   with a TTL, an on-demand view, a feature service), applies it and
                                   writes rows.json into Feast's own (SQLite) online store
  compare <repo_dir> <url>         reads the same entities from Feast's own online store and through
                                   the remote online store at <url> (Tessera), prints both as JSON
  write <repo_dir> <url>           writes through the remote online store (write_to_online_store) and
                                   pushes through POST /push; prints what it sent

The last stdout line is one JSON object.
"""

import json
import os
import sys
from pathlib import Path

import pandas as pd
import requests
from feast import FeatureStore, RepoConfig
from feast.feature_server_utils import convert_response_to_dict
from feast.repo_operations import parse_repo

FEATURES = ["driver_stats:conv_rate", "driver_stats:trips", "driver_stats:city"]


DEFINITIONS = """
from datetime import timedelta

import pandas as pd
from feast import Entity, FeatureService, FeatureView, Field, FileSource, PushSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, String
from feast.value_type import ValueType

driver = Entity(name="driver", join_keys=["driver_id"], value_type=ValueType.INT64, description="A driver")
driver_stats_file = FileSource(
    name="driver_stats_file",
    path=PATH,
    timestamp_field="event_timestamp",
    created_timestamp_column="created",
)
driver_push = PushSource(name="driver_push", batch_source=driver_stats_file)
driver_stats = FeatureView(
    name="driver_stats",
    entities=[driver],
    ttl=timedelta(days=1),
    schema=[
        Field(name="driver_id", dtype=Int64),
        Field(name="conv_rate", dtype=Float64),
        Field(name="trips", dtype=Int64),
        Field(name="city", dtype=String),
    ],
    source=driver_push,
    owner="rides@example.com",
)


@on_demand_feature_view(sources=[driver_stats], schema=[Field(name="conv_rate_pct", dtype=Float64)])
def driver_pct(inputs: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame()
    out["conv_rate_pct"] = inputs["conv_rate"] * 100
    return out


driver_model = FeatureService(name="driver_model", features=[driver_stats[["conv_rate", "trips"]]])
"""


def rows_frame(rows):
    frame = pd.DataFrame(rows)
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"], unit="ms", utc=True)
    frame["created"] = frame["event_timestamp"]
    return frame


def local_store(repo_dir):
    return FeatureStore(repo_path=repo_dir)


def remote_store(repo_dir, url):
    config = RepoConfig(
        project="feast_remote",
        provider="local",
        registry=os.path.join(repo_dir, "data", "registry.db"),
        online_store={"type": "remote", "path": url},
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
        repo_path=repo_dir,
        **({"auth": {"type": "oidc", "token_env_var": "TESSERA_API_KEY"}} if os.environ.get("TESSERA_API_KEY") else {}),
    )
    return FeatureStore(config=config)


def setup(repo_dir):
    with open(os.path.join(repo_dir, "feature_store.yaml"), "w") as f:
        f.write(
            "project: feast_remote\nprovider: local\nregistry: data/registry.db\n"
            "online_store: {type: sqlite, path: data/online.db}\noffline_store: {type: file}\n"
            "entity_key_serialization_version: 3\n"
        )
    os.makedirs(os.path.join(repo_dir, "data"), exist_ok=True)
    with open(os.path.join(repo_dir, "rows.json")) as f:
        rows = json.load(f)
    frame = rows_frame(rows)
    frame.to_parquet(os.path.join(repo_dir, "driver_stats.parquet"))
    parquet = os.path.join(repo_dir, "driver_stats.parquet")
    with open(os.path.join(repo_dir, "definitions.py"), "w") as f:
        f.write(DEFINITIONS.replace("PATH", repr(parquet)))
    # Applied as `feast apply` would: the objects Feast's own parser finds in the repository.
    os.chdir(repo_dir)
    sys.path.insert(0, repo_dir)
    contents = parse_repo(Path(repo_dir))
    store = local_store(repo_dir)
    store.apply(
        [
            *contents.entities,
            *contents.data_sources,
            *contents.feature_views,
            *contents.on_demand_feature_views,
            *contents.feature_services,
        ]
    )
    store.write_to_online_store("driver_stats", frame)
    print(json.dumps({"rows": len(frame)}))


def sdk_answer(response):
    """What a Feast user sees: to_dict() values, and the statuses of the response proto."""
    proto = response.proto
    names = list(proto.metadata.feature_names.val)
    statuses = {
        name: [int(s) for s in result.statuses] for name, result in zip(names, proto.results)
    }
    return {"values": response.to_dict(), "statuses": statuses}


def compare(repo_dir, url, entity_ids):
    entity_rows = [{"driver_id": i} for i in entity_ids]
    local = local_store(repo_dir)
    local_response = local.get_online_features(features=FEATURES, entity_rows=entity_rows)
    remote = remote_store(repo_dir, url)
    remote_response = remote.get_online_features(features=FEATURES, entity_rows=entity_rows)
    body = {"features": FEATURES, "entities": {"driver_id": entity_ids}}
    http = requests.post(f"{url}/get-online-features", json=body, headers=auth_headers(), timeout=30)
    print(
        json.dumps(
            {
                # What Feast's feature server answers for this request (feature_server.py serializes
                # store.get_online_features(...).proto with convert_response_to_dict).
                "feast_http": convert_response_to_dict(local_response.proto),
                "tessera_http": {"status": http.status_code, "body": http.json()},
                "feast_sdk": sdk_answer(local_response),
                "remote_sdk": sdk_answer(remote_response),
            }
        )
    )


def auth_headers():
    key = os.environ.get("TESSERA_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def write(repo_dir, url, payload):
    remote = remote_store(repo_dir, url)
    remote.write_to_online_store("driver_stats", rows_frame(payload["write"]))
    push = payload["push"]
    push_df = {k: [row[k] for row in push] for k in push[0]}
    push_df["event_timestamp"] = [
        pd.Timestamp(ms, unit="ms", tz="UTC").isoformat() for ms in push_df["event_timestamp"]
    ]
    response = requests.post(
        f"{url}/push",
        json={"push_source_name": "driver_push", "df": push_df, "to": "online"},
        headers=auth_headers(),
        timeout=30,
    )
    bad = requests.post(
        f"{url}/get-online-features",
        json={"features": ["no_such_view:x"], "entities": {"driver_id": [1]}},
        headers=auth_headers(),
        timeout=30,
    )
    print(
        json.dumps(
            {
                "push_status": response.status_code,
                "push_body": response.text,
                "unknown_view": {"status": bad.status_code, "body": bad.json()},
            }
        )
    )


def main():
    command, repo_dir = sys.argv[1], sys.argv[2]
    if command == "setup":
        setup(repo_dir)
    elif command == "compare":
        compare(repo_dir, sys.argv[3], json.loads(sys.argv[4]))
    elif command == "write":
        write(repo_dir, sys.argv[3], json.loads(sys.argv[4]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
