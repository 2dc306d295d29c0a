"""The Tessera client: online features, training sets and writes over gRPC."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import Any, Literal, TypeVar

import grpc
import pandas as pd
import pyarrow as pa

from ._columns import decode_column, encode_keys, encode_series, encode_timestamps, millis_to_datetime
from ._proto.tessera.v1 import registry_pb2, registry_pb2_grpc, serving_pb2, serving_pb2_grpc, types_pb2
from ._retry import RetryPolicy, call_with_retry
from .errors import from_rpc_error

T = TypeVar("T")

#: Default deadline of a unary call, seconds.
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Default deadline of a training set (GetHistorical), seconds.
DEFAULT_HISTORICAL_TIMEOUT_SECONDS = 600.0
#: Rows per Write message (the server's default limit is 10,000 rows per message).
DEFAULT_BATCH_ROWS = 5_000
#: Longest idempotency key the server accepts.
MAX_IDEMPOTENCY_KEY_LENGTH = 256

Durability = Literal["write_behind", "sync", "replicated"]
WriteTarget = Literal["online_and_offline", "online", "offline"]
LoadBalancing = Literal["pick_first", "round_robin"]

_DURABILITY = {
    "write_behind": serving_pb2.DURABILITY_WRITE_BEHIND,
    "sync": serving_pb2.DURABILITY_SYNC,
    "replicated": serving_pb2.DURABILITY_REPLICATED,
}
_TARGET = {
    "online_and_offline": serving_pb2.WRITE_TARGET_ONLINE_AND_OFFLINE,
    "online": serving_pb2.WRITE_TARGET_ONLINE,
    "offline": serving_pb2.WRITE_TARGET_OFFLINE,
}


class FeatureStatus(str, Enum):
    """Status of one online value. A PRESENT value may still be None (written as null)."""

    PRESENT = "PRESENT"
    NOT_FOUND = "NOT_FOUND"
    #: Older than the view's TTL; the value is None.
    EXPIRED = "EXPIRED"
    UNSPECIFIED = "UNSPECIFIED"

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return repr(self.value)


_STATUS = {
    serving_pb2.FEATURE_STATUS_PRESENT: FeatureStatus.PRESENT,
    serving_pb2.FEATURE_STATUS_NOT_FOUND: FeatureStatus.NOT_FOUND,
    serving_pb2.FEATURE_STATUS_EXPIRED: FeatureStatus.EXPIRED,
}

#: Statuses whose value has a stored event time (an EXPIRED one tells how old it is).
_HAS_EVENT_TIME = (FeatureStatus.PRESENT, FeatureStatus.EXPIRED)

#: Suffix of the status column of each feature in get_online_features results.
STATUS_SUFFIX = "__status"
#: Suffix of the event-time column of each feature (with include_event_timestamps).
EVENT_TIMESTAMP_SUFFIX = "__event_timestamp"
#: What the server names the entity rows' time column of a training set.
_SERVER_TIMESTAMP_COLUMN = "event_ts"


@dataclass(frozen=True)
class TLSConfig:
    """TLS to the server from PEM files: the CA that signed the server's certificate (None: the system
    roots) and, for mTLS, this client's certificate and key."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: str | None) -> bytes | None:
            if path is None:
                return None
            with open(path, "rb") as f:
                return f.read()

        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("TLSConfig: give both cert_file and key_file (mTLS), or neither")
        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.key_file),
            certificate_chain=read(self.cert_file),
        )


@dataclass(frozen=True)
class WriteResult:
    """Totals of a write over all its batches."""

    rows: int
    rows_applied_online: int
    rows_stale_online: int
    batches: int
    #: Events of an event view too late (``allowed_lateness``) or too far ahead (``future_tolerance``) to
    #: count in aggregations; they still update the plain features.
    rows_excluded_late: int = 0
    rows_excluded_future: int = 0
    #: Events already counted (the same content): they change no aggregate.
    rows_duplicate_events: int = 0


class Client:
    """A client of one Tessera deployment.

    >>> with Client("127.0.0.1:6566") as client:
    ...     client.get_online_features(["customer_stats:loyalty_score"], {"customer_id": [1001]})

    ``target`` is ``host:port`` or any gRPC target (``dns:///tessera-headless:6566``,
    ``ipv4:10.0.0.1:6566,10.0.0.2:6566``; use ``load_balancing="round_robin"`` to spread calls over
    every address). ``api_key`` is sent as ``authorization: Bearer …`` on every call (read it from the
    environment or a file, never from argv). ``tls`` turns on TLS (plaintext when None).
    ``timeout`` is the default deadline of a call in seconds (training sets: 20 times it, at least 600 s).
    Calls that end UNAVAILABLE are retried by ``retry`` (reads, and writes with an idempotency key).
    """

    def __init__(
        self,
        target: str,
        api_key: str | None = None,
        tls: TLSConfig | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        load_balancing: LoadBalancing | None = None,
        retry: RetryPolicy | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        if load_balancing is not None:
            options.append(("grpc.service_config", json.dumps({"loadBalancingConfig": [{load_balancing: {}}]})))
        self._channel = (
            grpc.secure_channel(target, tls.credentials(), options)
            if tls is not None
            else grpc.insecure_channel(target, options)
        )
        self._metadata: tuple[tuple[str, str], ...] = (
            (("authorization", f"Bearer {api_key}"),) if api_key is not None else ()
        )
        self._timeout = timeout
        self._retry = retry if retry is not None else RetryPolicy()
        self._store = serving_pb2_grpc.FeatureStoreStub(self._channel)
        self._registry = registry_pb2_grpc.RegistryStub(self._channel)

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- plumbing --------------------------------------------------------------------------------

    def _unary(self, method: Any, request: Any, timeout: float | None, retryable: bool = True) -> Any:
        seconds = self._timeout if timeout is None else timeout
        deadline = time.monotonic() + seconds
        try:
            return call_with_retry(
                self._retry,
                deadline,
                retryable,
                lambda remaining: method(request, timeout=remaining, metadata=self._metadata),
            )
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def _join_keys(self, timeout: float | None) -> dict[str, int]:
        """Join key name -> ValueType, from the registry: read per training set (one small call beside
        a large one), so an entity applied since the last call is never taken for a passthrough column."""
        listing: registry_pb2.ListResponse = self._unary(self._registry.List, registry_pb2.ListRequest(), timeout)
        return {k.name: k.type for e in listing.entities for k in e.join_keys}

    # -- online ----------------------------------------------------------------------------------

    def get_online_features(
        self,
        refs: Sequence[str] | None,
        entities: Mapping[str, Sequence[int | str]],
        *,
        feature_service: str | None = None,
        include_event_timestamps: bool = False,
        as_frame: bool = False,
        timeout: float | None = None,
    ) -> dict[str, list[Any]] | pd.DataFrame:
        """Latest values of features for a batch of entities.

        ``refs`` are ``view:feature``, ``view:*`` or ``view@2:feature`` (or give ``feature_service``);
        ``entities`` maps each join key to one value per entity (ints for int64 keys, str for string keys).

        Returns one list per column, one row per entity, as a dict (or a DataFrame with ``as_frame``):
        the join keys, then per feature its resolved ref (``view@1:feature``) holding the values
        (None when absent), ``<ref>__status`` holding a :class:`FeatureStatus` per value, and with
        ``include_event_timestamps`` ``<ref>__event_timestamp`` (UTC datetimes: the stored event time of
        a PRESENT or EXPIRED value, None when NOT_FOUND).
        """
        if refs is None and feature_service is None:
            raise ValueError("get_online_features: give refs or feature_service")
        request = serving_pb2.GetOnlineFeaturesRequest(
            features=list(refs or ()),
            feature_service=feature_service or "",
            entities={name: encode_keys(values) for name, values in entities.items()},
            include_event_timestamps=include_event_timestamps,
        )
        response: serving_pb2.GetOnlineFeaturesResponse = self._unary(self._store.GetOnlineFeatures, request, timeout)
        result: dict[str, list[Any]] = {name: list(values) for name, values in entities.items()}
        for feature in response.features:
            result[feature.ref] = decode_column(feature.values)
            statuses = [_STATUS.get(s, FeatureStatus.UNSPECIFIED) for s in feature.statuses]
            result[feature.ref + STATUS_SUFFIX] = statuses
            if include_event_timestamps:
                # An EXPIRED value keeps its stored event time (how old it is); NOT_FOUND has none.
                result[feature.ref + EVENT_TIMESTAMP_SUFFIX] = [
                    millis_to_datetime(ms) if s in _HAS_EVENT_TIME else None
                    for ms, s in zip(feature.event_timestamps, statuses)
                ]
        if not as_frame:
            return result
        columns: dict[str, Any] = {name: list(values) for name, values in entities.items()}
        for feature in response.features:
            columns[feature.ref] = _typed_series(result[feature.ref], feature.type)
            columns[feature.ref + STATUS_SUFFIX] = [s.value for s in result[feature.ref + STATUS_SUFFIX]]
            if include_event_timestamps:
                column = feature.ref + EVENT_TIMESTAMP_SUFFIX
                columns[column] = _utc_millis(result[column])
        return pd.DataFrame(columns)

    # -- historical ------------------------------------------------------------------------------

    def get_historical_features(
        self,
        entity_df: pd.DataFrame,
        refs: Sequence[str] | None = None,
        *,
        feature_service: str | None = None,
        timestamp_column: str = "event_timestamp",
        chunk_rows: int = 0,
        timeout: float | None = None,
    ) -> pd.DataFrame:
        """A point-in-time correct training set.

        ``entity_df`` has the join keys, the moment each row asks about (``timestamp_column``:
        datetimes, naive ones read as UTC, or epoch ms) and any other columns (labels), passed through.
        The answer has the entity columns, then one ``<view>__<feature>`` column per feature holding
        the latest value at or before each row's time (missing or older than the view's TTL: null).
        It travels as Arrow IPC and keeps its types: int64 (nullable ``Int64``), float64, bool
        (``boolean``), str, ``datetime64[ms, UTC]`` timestamps, lists.
        """
        if refs is None and feature_service is None:
            raise ValueError("get_historical_features: give refs or feature_service")
        if timestamp_column not in entity_df.columns:
            raise ValueError(f"get_historical_features: entity_df has no {timestamp_column!r} column")
        join_keys = self._join_keys(timeout)
        keys: dict[str, types_pb2.Column] = {}
        passthrough: dict[str, types_pb2.Column] = {}
        for name in entity_df.columns:
            if name == timestamp_column:
                continue
            series = entity_df[name]
            if name in join_keys:
                as_type = str if join_keys[name] == types_pb2.VALUE_TYPE_STRING else int
                keys[name] = encode_keys([as_type(v) for v in series.tolist()])
            else:
                passthrough[name] = encode_series(series)
        stamps = encode_timestamps(entity_df[timestamp_column])
        request = serving_pb2.GetHistoricalRequest(
            rows=serving_pb2.EntityRows(
                keys=keys, event_timestamps=list(stamps.timestamp_values.values), passthrough=passthrough
            ),
            features=list(refs or ()),
            feature_service=feature_service or "",
            format=serving_pb2.HISTORICAL_FORMAT_ARROW,
            chunk_rows=chunk_rows,
        )
        if stamps.WhichOneof("kind") != "timestamp_values":
            raise ValueError(f"get_historical_features: {timestamp_column!r} must hold datetimes or epoch ms")
        seconds = max(DEFAULT_HISTORICAL_TIMEOUT_SECONDS, self._timeout * 20) if timeout is None else timeout
        deadline = time.monotonic() + seconds

        def attempt(remaining: float) -> list[pa.Table]:
            # Retried whole only when it fails before its first chunk (nothing half-read is kept).
            return list(self._historical_chunks(request, remaining))

        try:
            tables = call_with_retry(self._retry, deadline, True, attempt)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None
        if not tables:
            return pd.DataFrame({name: [] for name in entity_df.columns})
        table = pa.concat_tables(tables)
        frame = table.to_pandas(types_mapper=_nullable_types)
        if timestamp_column not in frame.columns and _SERVER_TIMESTAMP_COLUMN in frame.columns:
            frame = frame.rename(columns={_SERVER_TIMESTAMP_COLUMN: timestamp_column})
        order = [c for c in entity_df.columns if c in frame.columns]
        return frame[order + [c for c in frame.columns if c not in order]]

    def _historical_chunks(self, request: serving_pb2.GetHistoricalRequest, remaining: float) -> Iterator[pa.Table]:
        stream = self._store.GetHistorical(request, timeout=remaining, metadata=self._metadata)
        try:
            for chunk in stream:
                if chunk.arrow_ipc:
                    yield pa.ipc.open_stream(chunk.arrow_ipc).read_all()
        finally:
            stream.cancel()

    # -- writes ----------------------------------------------------------------------------------

    def write(
        self,
        df: pd.DataFrame,
        view: str,
        *,
        timestamp_column: str = "event_timestamp",
        durability: Durability | None = None,
        target: WriteTarget | None = None,
        idempotency_key: str | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        timeout: float | None = None,
    ) -> WriteResult:
        """Writes the rows of ``df`` to feature view ``view`` (``name`` or ``name@version``).

        ``df`` holds the join keys, ``timestamp_column`` (each row's event time) and features by name.
        It is sent in batches of ``batch_rows``; each batch is validated whole by the server (a bad
        batch raises :class:`~tessera_client.errors.InvalidArgument` naming the row and column, and
        writes nothing). Every batch carries an idempotency key (``idempotency_key`` for a single
        batch, ``<idempotency_key>#<n>`` for batch n of several; a random one when not given), so a
        batch retried after UNAVAILABLE, or a whole write repeated with the same key, is applied once.
        Batches before a failing one stay written.

        ``durability`` and ``target`` left None are sent unset and the server applies its defaults
        (``write_behind``, ``online_and_offline``), as the Go and TypeScript clients do: the server
        tells writes apart by the exact request, so an idempotency key reused by another client for
        the same rows finds the same write.
        """
        if batch_rows < 1:
            raise ValueError("write: batch_rows must be at least 1")
        if timestamp_column not in df.columns:
            raise ValueError(f"write: df has no {timestamp_column!r} column (each row's event time)")
        if durability is not None and durability not in _DURABILITY:
            raise ValueError(f"write: durability must be one of {sorted(_DURABILITY)}")
        if target is not None and target not in _TARGET:
            raise ValueError(f"write: target must be one of {sorted(_TARGET)}")
        if len(df) == 0:
            return WriteResult(rows=0, rows_applied_online=0, rows_stale_online=0, batches=0)
        base_key = idempotency_key if idempotency_key is not None else uuid.uuid4().hex
        count = max(1, -(-len(df) // batch_rows))
        if len(base_key) + (len(f"#{count}") if count > 1 else 0) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise ValueError(f"write: idempotency_key is too long (at most {MAX_IDEMPOTENCY_KEY_LENGTH} characters)")
        totals = [0, 0, 0, 0, 0, 0]
        for index in range(count):
            part = df.iloc[index * batch_rows : (index + 1) * batch_rows]
            request = serving_pb2.WriteRequest(
                feature_view=view,
                columns={str(name): encode_series(part[name]) for name in part.columns if name != timestamp_column},
                event_timestamps=encode_timestamps(part[timestamp_column]),
                target=_TARGET[target] if target is not None else serving_pb2.WRITE_TARGET_UNSPECIFIED,
                durability=_DURABILITY[durability] if durability is not None else serving_pb2.DURABILITY_UNSPECIFIED,
                idempotency_key=base_key if count == 1 else f"{base_key}#{index}",
            )
            response: serving_pb2.WriteResponse = self._unary(self._store.Write, request, timeout, retryable=True)
            totals[0] += response.rows
            totals[1] += response.rows_applied_online
            totals[2] += response.rows_stale_online
            totals[3] += response.rows_excluded_late
            totals[4] += response.rows_excluded_future
            totals[5] += response.rows_duplicate_events
        return WriteResult(
            rows=totals[0],
            rows_applied_online=totals[1],
            rows_stale_online=totals[2],
            batches=count,
            rows_excluded_late=totals[3],
            rows_excluded_future=totals[4],
            rows_duplicate_events=totals[5],
        )


def _typed_series(values: list[Any], value_type: int) -> pd.Series:
    """A feature's values as a pandas column of its type, nullable (int64 -> Int64, bool -> boolean)."""
    if value_type == types_pb2.VALUE_TYPE_INT64:
        return pd.Series(values, dtype=pd.Int64Dtype())
    if value_type == types_pb2.VALUE_TYPE_BOOL:
        return pd.Series(values, dtype=pd.BooleanDtype())
    if value_type == types_pb2.VALUE_TYPE_DOUBLE:
        return pd.Series([float("nan") if v is None else v for v in values], dtype="float64")
    if value_type == types_pb2.VALUE_TYPE_TIMESTAMP:
        return _utc_millis(values)
    return pd.Series(values, dtype=object)


def _utc_millis(values: list[Any]) -> pd.Series:
    """Datetimes (None for missing) as ``datetime64[ms, UTC]``, the unit training sets have too."""
    return pd.to_datetime(pd.Series(values, dtype=object), utc=True).dt.as_unit("ms")


def _nullable_types(arrow_type: pa.DataType) -> Any:
    """Keeps ints and bools nullable in pandas (default: float64 / object when a value is missing)."""
    if pa.types.is_int64(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None
