#!/usr/bin/env python3
"""Feast side of the Tessera-vs-Feast benchmark.

Subcommands (see README.md next to this file):

  prepare     write deterministic Parquet data, feature_store.yaml and features.py,
              apply the definitions and materialize everything into a Redis Cluster
  online      time sequential FeatureStore.get_online_features(...).to_dict() calls
  historical  time FeatureStore.get_historical_features(...).to_arrow() (DuckDB offline store)
  remote      the same get_online_features(...).to_dict() through three online stores, interleaved:
              `remote` pointed at Tessera's Feast endpoints, `remote` pointed at `feast serve`, and
              the repository's own Redis store in process; values checked equal first

Every subcommand prints exactly one JSON object, on the last (and only) line of stdout.
Everything else (Feast's own prints, progress bars, logs) goes to stderr: file descriptor 1 is
pointed at stderr for the whole run and the JSON is written to a saved copy of the original.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import math
import os
import resource
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

# --- the data, a pure function of the row number (Node reproduces it) -------------------------

BASE = datetime(2025, 1, 1, tzinfo=timezone.utc)
BASE_SECONDS = 1735689600  # 2025-01-01T00:00:00Z
YEAR_SECONDS = 365 * 86400
HASH_MUL = 2654435761
JOIN_KEY = "entity_id"
ENTITY_NAME = "entity"
PROJECT = "bench"


def view_name(i: int) -> str:
    return f"fv_{i}"


def step_micros(rows_per_view: int, entities: int) -> int:
    """Distance between event number e and e+1: 365 days / ceil(R/N), floored to whole microseconds."""
    events = max(1, math.ceil(rows_per_view / entities))
    return (YEAR_SECONDS * 1_000_000) // events


def view_table(i: int, rows_per_view: int, entities: int, features: int, start: int = 0, stop: int | None = None):
    """Rows [start, stop) of view i as a pyarrow Table (the formula is in README.md)."""
    import numpy as np
    import pyarrow as pa

    stop = rows_per_view if stop is None else stop
    r = np.arange(start, stop, dtype=np.int64)
    step = step_micros(rows_per_view, entities)
    event_no = r // entities
    jitter_s = (r * HASH_MUL + i * 97) % 3600  # r * HASH_MUL fits in int64 while r < 3.4e9
    ts_us = BASE_SECONDS * 1_000_000 + event_no * step + jitter_s * 1_000_000
    ts_type = pa.timestamp("us", tz="UTC")
    columns = {
        JOIN_KEY: pa.array(r % entities, type=pa.int64()),
        "event_timestamp": pa.array(ts_us, type=pa.int64()).cast(ts_type),
        "created": pa.array(ts_us + 1_000_000, type=pa.int64()).cast(ts_type),
    }
    for j in range(features):
        columns[f"f{j}"] = pa.array(((r * 31 + i * 7 + j * 13) % 1000) / 1000.0, type=pa.float64())
    return pa.table(columns)


def expected_latest_f(i: int, j: int, entity: int, rows_per_view: int, entities: int) -> float | None:
    """f_j of view i for the entity's latest row (the one with the largest event number).

    That row is also the one with the latest event_timestamp as long as the event step is at least
    3600 s (ceil(R/N) <= 8760), which holds for every size the benchmark uses."""
    if entity >= min(entities, rows_per_view):
        return None
    last = ((rows_per_view - 1 - entity) // entities) * entities + entity
    return ((last * 31 + i * 7 + j * 13) % 1000) / 1000.0


def entity_rows_table(count: int, entities: int):
    """The historical bench's entity rows: entity (k * 2654435761) % N at 2025-01-01 + (k * 40503) % 1 year."""
    import numpy as np
    import pyarrow as pa

    k = np.arange(count, dtype=np.int64)
    ids = (k * HASH_MUL) % entities
    ts_ms = (BASE_SECONDS + (k * 40503) % YEAR_SECONDS) * 1000
    return pa.table(
        {
            JOIN_KEY: pa.array(ids, type=pa.int64()),
            "event_timestamp": pa.array(ts_ms, type=pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        }
    )


# --- stdout discipline ------------------------------------------------------------------------

_json_out = None


def _capture_stdout() -> None:
    """Send everything written to stdout (Python or C level) to stderr; keep the real stdout for the JSON."""
    global _json_out
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    _json_out = os.fdopen(saved, "w")
    sys.stdout = sys.stderr


def emit(obj: dict) -> None:
    sys.stderr.flush()
    out = _json_out if _json_out is not None else sys.__stdout__
    out.write(json.dumps(obj) + "\n")
    out.flush()


def log(*parts) -> None:
    print("[feast_bench]", *parts, file=sys.stderr, flush=True)


def feast_version() -> str:
    return importlib.metadata.version("feast")


# --- prepare ----------------------------------------------------------------------------------

FEATURE_STORE_YAML = """\
# Written by bench/feast/feast_bench.py prepare
project: {project}
provider: local
registry: {registry}
online_store:
{online_store}
offline_store:
  type: duckdb
entity_key_serialization_version: {eksv}
"""

FEATURES_PY = '''\
# Written by bench/feast/feast_bench.py prepare: {views} feature views x {features} Float64 features.
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
from feast.value_type import ValueType

DATA_DIR = {data_dir!r}
VIEWS = {views}
FEATURES = {features}
TTL = timedelta(days={ttl_days})

entity = Entity(name={entity!r}, join_keys=[{join_key!r}], value_type=ValueType.INT64)


def _view(i):
    source = FileSource(
        name=f"fv_{{i}}_source",
        path=f"{{DATA_DIR}}/view_{{i}}.parquet",
        timestamp_field="event_timestamp",
        created_timestamp_column="created",
    )
    return FeatureView(
        name=f"fv_{{i}}",
        entities=[entity],
        ttl=TTL,
        schema=[Field(name={join_key!r}, dtype=Int64)]
        + [Field(name=f"f{{j}}", dtype=Float64) for j in range(FEATURES)],
        online=True,
        source=source,
    )


feature_views = [_view(i) for i in range(VIEWS)]
'''


def _entity_key_serialization_version() -> int:
    """The newest version this Feast accepts (0.67 wants 3; older ones took 2)."""
    try:
        from feast.repo_config import RepoConfig

        field = RepoConfig.model_fields["entity_key_serialization_version"]
        default = field.default
        if isinstance(default, int):
            return max(default, 3)
    except Exception:  # pragma: no cover - only on unexpected Feast internals
        pass
    return 3


def _load_definitions(repo: Path):
    spec = importlib.util.spec_from_file_location("bench_feast_features", repo / "features.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def _redis_cluster_client(nodes: str):
    from redis.cluster import ClusterNode, RedisCluster

    startup = []
    for part in nodes.split(","):
        host, port = part.rsplit(":", 1)
        startup.append(ClusterNode(host, int(port)))
    return RedisCluster(startup_nodes=startup)


def cmd_prepare(args) -> dict:
    import pyarrow.parquet as pq

    repo = Path(args.repo).resolve()
    data = Path(args.data).resolve() if args.data else repo / "data"
    data.mkdir(parents=True, exist_ok=True)
    repo.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()

    chunk = 1_000_000
    for i in range(args.views):
        path = data / f"view_{i}.parquet"
        writer = None
        try:
            for start in range(0, args.rows_per_view, chunk):
                table = view_table(i, args.rows_per_view, args.entities, args.features, start,
                                   min(args.rows_per_view, start + chunk))
                if writer is None:
                    writer = pq.ParquetWriter(str(path), table.schema)
                writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        log(f"wrote {path} ({args.rows_per_view} rows)")

    registry = repo / "registry.db"
    if registry.exists():
        registry.unlink()  # a fresh registry: apply below is the only source of truth
    (repo / "feature_store.yaml").write_text(
        FEATURE_STORE_YAML.format(
            project=PROJECT,
            registry=str(registry),
            online_store=(
                f'  type: redis\n  redis_type: redis_cluster\n  connection_string: "{args.redis}"'
                if args.online_store == "redis"
                else f"  type: sqlite\n  path: {repo / 'online.db'}"
            ),
            eksv=_entity_key_serialization_version(),
        )
    )
    (repo / "features.py").write_text(
        FEATURES_PY.format(
            data_dir=str(data),
            views=args.views,
            features=args.features,
            ttl_days=args.ttl_days,
            entity=ENTITY_NAME,
            join_key=JOIN_KEY,
        )
    )

    if args.online_store == "redis" and not args.redis:
        raise SystemExit("prepare: --redis is required with --online-store redis")
    if args.flush_redis and args.online_store == "redis":
        from redis.cluster import RedisCluster

        client = _redis_cluster_client(args.redis)
        client.flushall(target_nodes=RedisCluster.PRIMARIES)
        client.close()
        log("flushed every Redis primary")

    from feast import FeatureStore

    defs = _load_definitions(repo)
    store = FeatureStore(repo_path=str(repo))
    store.apply([defs.entity, *defs.feature_views])
    log(f"applied {len(defs.feature_views)} feature views")
    prepare_seconds = time.perf_counter() - t0

    events = max(1, math.ceil(args.rows_per_view / args.entities))
    last_ts = BASE + timedelta(microseconds=(events - 1) * step_micros(args.rows_per_view, args.entities)) \
        + timedelta(seconds=3600)
    start_date = BASE - timedelta(days=1)
    end_date = last_ts + timedelta(days=1)
    materialize_seconds = 0.0
    if args.materialize:
        t1 = time.perf_counter()
        store.materialize(start_date=start_date, end_date=end_date)
        materialize_seconds = time.perf_counter() - t1
        log(f"materialized {start_date.isoformat()} .. {end_date.isoformat()} in {materialize_seconds:.2f} s")

    return {
        "rows": args.views * args.rows_per_view,
        "prepareSeconds": round(prepare_seconds, 4),
        "materializeSeconds": round(materialize_seconds, 4),
        "dataDir": str(data),
        "feast": feast_version(),
    }


# --- shared helpers for the read paths ---------------------------------------------------------


def _view_features(store) -> list[tuple[str, list[str]]]:
    """[(view name, [feature names])] ordered fv_0, fv_1, ... by index."""
    views = store.list_feature_views()
    out = []
    for fv in views:
        if not fv.name.startswith("fv_"):
            continue
        out.append((int(fv.name[3:]), fv.name, [f.name for f in fv.features]))
    out.sort()
    return [(name, feats) for _, name, feats in out]


def _feature_refs(view_features, count: int | None = None, per_view: int | None = None, views: int | None = None):
    refs = []
    for vi, (name, feats) in enumerate(view_features):
        if views is not None and vi >= views:
            break
        for f in feats[: per_view if per_view is not None else len(feats)]:
            refs.append(f"{name}:{f}")
    if count is not None:
        if count > len(refs):
            raise SystemExit(f"shape asks for {count} features but the repo has only {len(refs)}")
        refs = refs[:count]
    return refs


def _percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(1, math.ceil(p / 100.0 * len(sorted_values)))
    return sorted_values[min(k, len(sorted_values)) - 1]


# --- online -----------------------------------------------------------------------------------


def _entity_ids(call_index: int, count: int, entities: int) -> list[int]:
    """Deterministic pseudo-random ids for one call: ((c * 1000003 + p) * 2654435761 + 12345) % N."""
    base = call_index * 1_000_003
    return [((base + p) * HASH_MUL + 12345) % entities for p in range(count)]


def cmd_online(args) -> dict:
    from feast import FeatureStore

    store = FeatureStore(repo_path=str(Path(args.repo).resolve()))
    view_features = _view_features(store)
    results = []
    call_index = 0
    for shape in args.shapes.split(","):
        shape = shape.strip()
        n_entities, n_features = (int(x) for x in shape.lower().split("x"))
        refs = _feature_refs(view_features, count=n_features)

        def one_call(c: int):
            rows = [{JOIN_KEY: k} for k in _entity_ids(c, n_entities, args.entities)]
            return store.get_online_features(
                features=refs, entity_rows=rows, full_feature_names=True
            ).to_dict()

        for _ in range(args.warmup):
            one_call(call_index)
            call_index += 1

        latencies = []
        last = None
        last_call = call_index
        started = time.perf_counter()
        deadline = started + args.max_seconds
        while len(latencies) < args.calls:
            t = time.perf_counter()
            last = one_call(call_index)
            latencies.append((time.perf_counter() - t) * 1000.0)
            last_call = call_index
            call_index += 1
            if time.perf_counter() >= deadline:
                break
        elapsed = time.perf_counter() - started

        feature_keys = [r.replace(":", "__") for r in refs]
        non_null = 0
        check = None
        if last is not None:
            for key in feature_keys:
                non_null += sum(1 for v in last.get(key, []) if v is not None)
            col = last.get("fv_0__f0")
            check = col[0] if col else None
        first_entity = _entity_ids(last_call, n_entities, args.entities)[0]
        expected = None
        if args.rows_per_view is not None:
            expected = expected_latest_f(0, 0, first_entity, args.rows_per_view, args.entities)
        lat = sorted(latencies)
        results.append(
            {
                "shape": shape,
                "calls": len(latencies),
                "p50Ms": round(_percentile(lat, 50), 4),
                "p95Ms": round(_percentile(lat, 95), 4),
                "p99Ms": round(_percentile(lat, 99), 4),
                "maxMs": round(lat[-1], 4) if lat else None,
                "callsPerSecond": round(len(latencies) / elapsed, 2) if elapsed > 0 else None,
                "nonNullValues": non_null,
                "checkValue": check,
                "checkEntity": first_entity,
                "expectedCheckValue": expected,
                "responseKeys": len(last) if last is not None else 0,
            }
        )
        log(f"{shape}: {results[-1]}")
    return {"shapes": results, "feast": feast_version()}


# --- historical -------------------------------------------------------------------------------


def _training_set_checks(result) -> dict:
    """Per view, for its first feature f0: [sum, sum of f0 × (entity_id % 1000 + 1), null count].

    The weighted sum ties values to entities, so values moved between rows do not cancel out.
    """
    import pyarrow.compute as pc

    ids = result.column("entity_id")  # non-negative: integer division is the floor
    weight = pc.add(pc.subtract(ids, pc.multiply(pc.divide(ids, 1000), 1000)), 1)
    checks = {}
    for name in result.column_names:
        if name.startswith("fv_") and name.endswith("__f0"):
            column = result.column(name)
            checks[name] = [
                pc.sum(column).as_py() or 0.0,
                pc.sum(pc.multiply(column, pc.cast(weight, "float64"))).as_py() or 0.0,
                column.null_count,
            ]
    return checks


def cmd_historical(args) -> dict:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    repo = Path(args.repo).resolve()
    table = entity_rows_table(args.entity_rows, args.entities)
    entities_path = repo / f"entities_{args.entity_rows}.parquet"
    pq.write_table(table, str(entities_path))
    entity_df = table.to_pandas()
    log(f"wrote {entities_path}; entity_df dtypes: {dict(entity_df.dtypes.astype(str))}")

    from feast import FeatureStore

    store = FeatureStore(repo_path=str(repo))
    refs = _feature_refs(_view_features(store), per_view=args.features_per_view, views=args.views)
    log(f"{len(refs)} features: {refs[0]} .. {refs[-1]}")
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    t0 = time.perf_counter()
    result = store.get_historical_features(
        entity_df=entity_df, features=refs, full_feature_names=True
    ).to_arrow()
    seconds = time.perf_counter() - t0

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    first = refs[0].replace(":", "__")
    if first not in result.column_names:  # full_feature_names is on, but be tolerant
        first = next(c for c in result.column_names if c.endswith(refs[0].split(":")[1]))
    return {
        "entityRows": args.entity_rows,
        "seconds": round(seconds, 4),
        "rows": result.num_rows,
        "columns": result.num_columns,
        "nullsInFirstFeature": result.column(first).null_count,
        # Tessera must give the same training set: Node compares these with its own.
        "firstFeatureSum": pc.sum(result.column(first)).as_py() or 0.0,
        "checks": _training_set_checks(result),
        "peakRssBytes": peak,
        "rssBeforeCallBytes": rss_before,
        "firstFeatureColumn": first,
        "features": len(refs),
        "entitiesFile": str(entities_path),
        "feast": feast_version(),
    }


# --- remote -----------------------------------------------------------------------------------

REMOTE_STORES = ("tessera", "feast_serve", "in_process")
# The same POST the remote store sends, without the SDK around it: what each server (and HTTP) costs.
HTTP_CONTENDERS = ("tessera_http", "feast_serve_http")


def _remote_store(repo: Path, url: str):
    """The repository's own configuration with only `online_store` changed to `remote` at `url`."""
    import yaml
    from feast import FeatureStore, RepoConfig

    raw = yaml.safe_load((repo / "feature_store.yaml").read_text())
    raw["online_store"] = {"type": "remote", "path": url}
    return FeatureStore(config=RepoConfig(repo_path=repo, **raw))


def _summarize(samples: list[float]) -> dict:
    """Nearest-rank percentiles in ms, as bench/support/latency.ts summarize()."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[max(1, math.ceil(p / 100.0 * len(ordered))) - 1]

    return {
        "calls": len(ordered),
        "p50Millis": pct(50),
        "p90Millis": pct(90),
        "p99Millis": pct(99),
        "maxMillis": ordered[-1],
        "meanMillis": sum(ordered) / len(ordered),
    }


def _check_equal(shape: str, batch: list[int], refs: list[str], answers: dict) -> tuple[int, int]:
    """Every store's to_dict() and statuses equal the in-process store's, and every value PRESENT.

    Returns (values compared, values present). Raises SystemExit naming the store, column, row and
    both values at the first difference, types included (a whole double answered as an int differs):
    timing stores that answer differently would compare nothing.
    """
    floor_values, floor_statuses = answers["in_process"]
    compared = 0
    for name, (values, statuses) in answers.items():
        if sorted(values) != sorted(floor_values):
            raise SystemExit(
                f"{shape}: {name} answered columns {sorted(values)}, in_process {sorted(floor_values)}"
            )
        for column, floor_column in floor_values.items():
            column_values = values[column]
            for row, entity in enumerate(batch):
                theirs = column_values[row] if row < len(column_values) else "<missing>"
                ours = floor_column[row] if row < len(floor_column) else "<missing>"
                if theirs != ours or type(theirs) is not type(ours):
                    raise SystemExit(
                        f"{shape}: {name} differs from in_process at {column}[{row}] (entity_id {entity}): "
                        f"{theirs!r} != {ours!r}"
                    )
            if name != "in_process":
                compared += len(batch)
        if statuses != floor_statuses:
            raise SystemExit(f"{shape}: {name} statuses {statuses} != in_process {floor_statuses}")
    present = 0
    for feature, column_statuses in floor_statuses.items():
        if feature == JOIN_KEY:
            continue
        for row, status in enumerate(column_statuses):
            value = floor_values[feature][row]
            if status != 1 or value is None:  # FieldStatus.PRESENT
                raise SystemExit(
                    f"{shape}: {feature}[{row}] (entity_id {batch[row]}) is not PRESENT everywhere "
                    f"(status {status}, value {value!r}): a bench of misses measures nothing"
                )
            present += 1
    if present != len(batch) * len(refs):
        raise SystemExit(f"{shape}: {present} values PRESENT, expected {len(batch) * len(refs)}")
    return compared, present


def cmd_remote(args) -> dict:
    import random

    from feast import FeatureStore

    repo = Path(args.repo).resolve()
    stores = {
        "tessera": _remote_store(repo, args.tessera_url),
        "feast_serve": _remote_store(repo, args.feast_url),
        "in_process": FeatureStore(repo_path=str(repo)),
    }
    view_features = _view_features(stores["in_process"])
    rng = random.Random(args.seed)
    # requests, as the SDK's remote store uses it (a pooled keep-alive session), one per server.
    import requests

    sessions = {name: requests.Session() for name in HTTP_CONTENDERS}
    shapes_out = []
    for shape in args.shapes.split(","):
        shape = shape.strip()
        n_entities, n_features = (int(x) for x in shape.lower().split("x"))
        if n_entities > args.entities:
            raise SystemExit(f"{shape}: {n_entities} entities per call but only {args.entities} exist")
        refs = _feature_refs(view_features, count=n_features)
        # Distinct entities per call, drawn once before measuring; every store gets the same calls.
        batches = [rng.sample(range(args.entities), n_entities) for _ in range(args.batches)]
        entity_rows = [[{JOIN_KEY: k} for k in batch] for batch in batches]

        def read(store, i: int):
            return store.get_online_features(
                features=refs, entity_rows=entity_rows[i % len(entity_rows)], full_feature_names=True
            )

        bodies = [
            {
                "entities": {JOIN_KEY: batch},
                "full_feature_names": True,
                "include_feature_view_version_metadata": False,
                "features": refs,
            }
            for batch in batches
        ]

        def post(session, url: str):
            def call(i: int):
                response = session.post(f"{url}/get-online-features", json=bodies[i % len(bodies)], timeout=60)
                if response.status_code != 200:
                    raise SystemExit(f"{shape}: POST {url}/get-online-features: {response.status_code} {response.text}")
                return response.content

            return call

        contenders = {name: (lambda i, store=store: read(store, i).to_dict()) for name, store in stores.items()}
        contenders["tessera_http"] = post(sessions["tessera_http"], args.tessera_url)
        contenders["feast_serve_http"] = post(sessions["feast_serve_http"], args.feast_url)

        compared = present = 0
        for i in range(min(args.check_batches, len(batches))):
            answers = {}
            for name, store in stores.items():
                response = read(store, i)
                names = list(response.proto.metadata.feature_names.val)
                statuses = {
                    n: [int(s) for s in result.statuses] for n, result in zip(names, response.proto.results)
                }
                answers[name] = (response.to_dict(), statuses)
            c, p = _check_equal(shape, batches[i], refs, answers)
            compared += c
            present += p
        log(f"{shape}: {compared} values equal across {len(stores)} stores, {present} PRESENT")

        for call in contenders.values():
            for i in range(args.warmup):
                call(i)
        samples = {name: [] for name in contenders}
        order = list(contenders)
        rounds = 0
        started = time.monotonic()
        while (
            any(len(s) < args.calls for s in samples.values())
            and time.monotonic() - started < args.max_seconds
        ):
            rng.shuffle(order)
            rounds += 1
            for name in order:
                kept = samples[name]
                call = contenders[name]
                end = min(len(kept) + args.block_calls, args.calls)
                while len(kept) < end:
                    i = len(kept)
                    t0 = time.perf_counter_ns()
                    call(i)
                    kept.append((time.perf_counter_ns() - t0) / 1e6)
        out = {
            "id": shape,
            "entities": n_entities,
            "features": n_features,
            "rounds": rounds,
            "seconds": round(time.monotonic() - started, 3),
            "check": {
                "batches": min(args.check_batches, len(batches)),
                "valuesCompared": compared,
                "valuesPresent": present,
            },
            "stores": {name: _summarize(s) for name, s in samples.items()},
        }
        shapes_out.append(out)
        log(
            f"{shape}: "
            + ", ".join(f"{n} p50 {v['p50Millis']:.2f} p99 {v['p99Millis']:.2f} ms" for n, v in out["stores"].items())
        )
    return {
        "feast": feast_version(),
        "python": sys.version.split()[0],
        "stores": list(REMOTE_STORES),
        "http": list(HTTP_CONTENDERS),
        "shapes": shapes_out,
    }


# --- CLI --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prepare", help="write data + repo, apply, materialize into Redis Cluster")
    p.add_argument("--repo", required=True, help="feature repo directory (feature_store.yaml, features.py, registry.db)")
    p.add_argument("--data", help="directory the Parquet files go into (DIR/data/view_<i>.parquet); default REPO/data")
    p.add_argument("--entities", type=int, required=True, help="N: entity ids are 0..N-1")
    p.add_argument("--rows-per-view", type=int, required=True, help="R: rows in each view")
    p.add_argument("--views", type=int, required=True, help="V: feature views fv_0..fv_{V-1}")
    p.add_argument("--features", type=int, required=True, help="F: Float64 features f0..f{F-1} per view")
    p.add_argument("--redis", help="all cluster nodes, host:port,host:port,... (required with --online-store redis)")
    p.add_argument("--online-store", choices=("redis", "sqlite"), default="redis",
                   help="redis (the cluster at --redis) or sqlite (REPO/online.db: training sets only)")
    p.add_argument("--no-materialize", dest="materialize", action="store_false",
                   help="skip `materialize` (training sets read only the offline store)")
    p.add_argument("--ttl-days", type=int, default=3650, help="FeatureView ttl in days (default 3650)")
    p.add_argument("--flush-redis", action="store_true",
                   help="FLUSHALL every primary first (destroys everything else in that cluster)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("online", help="time sequential get_online_features(...).to_dict()")
    p.add_argument("--repo", required=True)
    p.add_argument("--entities", type=int, required=True, help="N: ids are drawn from [0, N)")
    p.add_argument("--shapes", default="1x10,10x10,100x10", help="comma-separated <entities>x<features>")
    p.add_argument("--calls", type=int, default=2000, help="most measured calls per shape")
    p.add_argument("--max-seconds", type=float, default=10.0, help="most seconds of measured calls per shape")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured calls before each shape")
    p.add_argument("--rows-per-view", type=int, default=None,
                   help="R used by prepare: adds expectedCheckValue (fv_0:f0 of checkEntity's latest row)")
    p.set_defaults(func=cmd_online)

    p = sub.add_parser("historical", help="time get_historical_features(...).to_arrow()")
    p.add_argument("--repo", required=True)
    p.add_argument("--entity-rows", type=int, required=True, help="E: rows in the entity dataframe")
    p.add_argument("--entities", type=int, required=True, help="N: the population the ids are drawn from")
    p.add_argument("--features-per-view", type=int, default=None, help="default: every feature of each view")
    p.add_argument("--views", type=int, default=None, help="default: every view fv_*")
    p.set_defaults(func=cmd_historical)

    p = sub.add_parser("remote", help="get_online_features through Tessera, feast serve and in process, interleaved")
    p.add_argument("--repo", required=True, help="the repository prepare wrote (its Redis store is the in-process one)")
    p.add_argument("--tessera-url", required=True, help="Tessera's Feast HTTP endpoints, http://host:port")
    p.add_argument("--feast-url", required=True, help="feast serve, http://host:port")
    p.add_argument("--entities", type=int, required=True, help="N: ids are drawn from [0, N)")
    p.add_argument("--shapes", default="1x10,10x10,100x10,100x30", help="comma-separated <entities>x<features>")
    p.add_argument("--calls", type=int, default=1500, help="most measured calls per store and shape")
    p.add_argument("--block-calls", type=int, default=50, help="calls a store makes before the next takes its turn")
    p.add_argument("--max-seconds", type=float, default=60.0, help="most seconds of measuring per shape")
    p.add_argument("--warmup", type=int, default=50, help="unmeasured calls per store before each shape")
    p.add_argument("--batches", type=int, default=64, help="distinct prepared requests per shape, used in turn")
    p.add_argument("--check-batches", type=int, default=8, help="requests whose answers are compared first")
    p.add_argument("--seed", type=int, default=20261207, help="entity draws and turn order")
    p.set_defaults(func=cmd_remote)

    args = parser.parse_args(argv)
    _capture_stdout()
    result = args.func(args)
    emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
