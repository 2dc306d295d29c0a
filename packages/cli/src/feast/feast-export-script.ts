/**
 * The Python side of `tessera import feast`: loads a Feast repository with Feast's own parser
 * (`feast.repo_operations.parse_repo`, what `feast apply` uses) and prints its objects as one JSON
 * line. Run by the Python that has the user's Feast installed; sent on stdin, so the CLI ships no
 * Python file and needs no Python unless this command runs.
 */
export const FEAST_EXPORT_SCRIPT = String.raw`
import json, sys
from pathlib import Path

repo = Path(sys.argv[1]).resolve()
sys.path.insert(0, str(repo))
import yaml
from feast.repo_operations import parse_repo

contents = parse_repo(repo)
project = ""
config = repo / "feature_store.yaml"
if config.exists():
    project = (yaml.safe_load(config.read_text()) or {}).get("project", "") or ""


def source(s):
    if s is None:
        return None
    out = {
        "name": s.name,
        "class": type(s).__name__,
        "timestamp_field": getattr(s, "timestamp_field", "") or "",
        "created_timestamp_column": getattr(s, "created_timestamp_column", "") or "",
        "field_mapping": dict(getattr(s, "field_mapping", {}) or {}),
        "date_partition_column": getattr(s, "date_partition_column", "") or "",
        "description": getattr(s, "description", "") or "",
        "tags": dict(getattr(s, "tags", {}) or {}),
        "owner": getattr(s, "owner", "") or "",
    }
    for attr in ("path", "table", "query"):
        value = getattr(s, attr, None)
        if isinstance(value, str) and value:
            out[attr] = value
    batch = getattr(s, "batch_source", None)
    if batch is not None:
        out["batch_source"] = source(batch)
    return out


def fields(items):
    return [{"name": f.name, "dtype": str(f.dtype), "description": f.description or "", "tags": dict(f.tags or {})} for f in items]


def view(v, kind):
    ttl = getattr(v, "ttl", None)
    return {
        "kind": kind,
        "name": v.name,
        "entities": list(getattr(v, "entities", []) or []),
        "entity_columns": fields(getattr(v, "entity_columns", []) or []),
        "features": fields(v.features),
        "ttl_seconds": int(ttl.total_seconds()) if ttl else 0,
        "online": bool(getattr(v, "online", True)),
        "offline": bool(getattr(v, "offline", False)),
        "description": v.description or "",
        "tags": dict(v.tags or {}),
        "owner": v.owner or "",
        "batch_source": source(getattr(v, "batch_source", None)),
        "stream_source": source(getattr(v, "stream_source", None)),
        "aggregations": len(getattr(v, "aggregations", []) or []),
        "has_udf": getattr(v, "udf", None) is not None,
    }


print(json.dumps({
    "project": project,
    "entities": [
        {
            "name": e.name,
            "join_keys": [e.join_key],
            "value_type": e.value_type.name,
            "description": e.description or "",
            "tags": dict(e.tags or {}),
            "owner": e.owner or "",
        }
        for e in contents.entities
    ],
    "data_sources": [source(s) for s in contents.data_sources],
    "feature_views": [view(v, "feature_view") for v in contents.feature_views]
    + [view(v, "stream_feature_view") for v in contents.stream_feature_views],
    "on_demand_feature_views": [
        {"name": v.name, "features": fields(v.features), "mode": getattr(v, "mode", "")} for v in contents.on_demand_feature_views
    ],
    "feature_services": [
        {
            "name": s.name,
            "features": [f"{p.name_to_use()}:{f.name}" for p in s.feature_view_projections for f in p.features],
            "description": s.description or "",
            "tags": dict(s.tags or {}),
            "owner": s.owner or "",
        }
        for s in contents.feature_services
    ],
    "permissions": [p.name for p in getattr(contents, "permissions", [])],
}))
`;
