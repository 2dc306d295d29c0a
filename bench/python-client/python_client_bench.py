"""The Python client against the raw generated grpcio stub, one call in flight, interleaved.

Run by bench/python-client.ts with a JSON spec on stdin:
  {"address", "refs", "join_key", "shapes": [{"id", "batches": [[id, ...], ...]}],
   "warmup_calls", "calls", "block_calls", "max_case_seconds", "seed"}
and prints one JSON object on stdout: per shape, the latency samples' summary of each contender.

- client: ``tessera_client.Client.get_online_features(refs, {join_key: ids})`` as a user calls it
  (request built from Python lists, retry wrapper, values decoded into lists of Python objects and
  statuses; a dict, no DataFrame);
- raw: ``FeatureStoreStub.GetOnlineFeatures(request, timeout=30)`` on a channel of its own, with
  the same requests built once before measuring, and the reply left as a protobuf message.

Each contender makes ``block_calls`` calls, then the next takes its turn, in an order shuffled every
round (seeded), so machine noise lands on both alike.
"""

from __future__ import annotations

import json
import random
import sys
import time

import grpc

from tessera_client import Client
from tessera_client._proto.tessera.v1 import serving_pb2, serving_pb2_grpc, types_pb2


def summarize(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        # Nearest rank, as bench/support/latency.ts summarize().
        rank = max(1, -(-len(ordered) * p // 100))
        return ordered[int(rank) - 1]

    return {
        "calls": len(ordered),
        "p50Millis": pct(50),
        "p90Millis": pct(90),
        "p99Millis": pct(99),
        "maxMillis": ordered[-1],
        "meanMillis": sum(ordered) / len(ordered),
    }


def main() -> None:
    spec = json.load(sys.stdin)
    address: str = spec["address"]
    refs: list[str] = spec["refs"]
    join_key: str = spec["join_key"]
    rng = random.Random(spec["seed"])
    client = Client(address, timeout=30.0)
    channel = grpc.insecure_channel(
        address,
        [("grpc.max_receive_message_length", 64 * 1024 * 1024), ("grpc.max_send_message_length", 64 * 1024 * 1024)],
    )
    stub = serving_pb2_grpc.FeatureStoreStub(channel)
    shapes_out = []
    try:
        for shape in spec["shapes"]:
            batches: list[list[int]] = shape["batches"]
            raw_requests = [
                serving_pb2.GetOnlineFeaturesRequest(
                    features=refs,
                    entities={join_key: types_pb2.Column(int64_values=types_pb2.Int64List(values=batch))},
                )
                for batch in batches
            ]
            # Every reply is checked once (all PRESENT, one value per entity): a bench of misses is none.
            for i, batch in enumerate(batches):
                result = client.get_online_features(refs, {join_key: batch})
                reply = stub.GetOnlineFeatures(raw_requests[i], timeout=30.0)
                for feature in reply.features:
                    statuses = result[feature.ref + "__status"]
                    if len(statuses) != len(batch) or any(str(s) != "PRESENT" for s in statuses):
                        raise SystemExit(f"{shape['id']}: {feature.ref}: not every value PRESENT through the client")
                    if list(feature.statuses) != [serving_pb2.FEATURE_STATUS_PRESENT] * len(batch):
                        raise SystemExit(f"{shape['id']}: {feature.ref}: not every value PRESENT through the raw stub")

            def call_client(i: int) -> None:
                client.get_online_features(refs, {join_key: batches[i % len(batches)]})

            def call_raw(i: int) -> None:
                stub.GetOnlineFeatures(raw_requests[i % len(raw_requests)], timeout=30.0)

            contenders = {"client": call_client, "raw": call_raw}
            for call in contenders.values():
                for i in range(spec["warmup_calls"]):
                    call(i)
            samples: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            started = time.monotonic()
            rounds = 0
            while (
                any(len(s) < spec["calls"] for s in samples.values())
                and time.monotonic() - started < spec["max_case_seconds"]
            ):
                rng.shuffle(names)
                rounds += 1
                for name in names:
                    kept = samples[name]
                    call = contenders[name]
                    end = min(len(kept) + spec["block_calls"], spec["calls"])
                    while len(kept) < end:
                        i = len(kept)
                        t0 = time.perf_counter_ns()
                        call(i)
                        kept.append((time.perf_counter_ns() - t0) / 1e6)
            shapes_out.append(
                {"id": shape["id"], "rounds": rounds, **{name: summarize(s) for name, s in samples.items()}}
            )
    finally:
        client.close()
        channel.close()
    json.dump(
        {
            "python": sys.version.split()[0],
            "grpcio": grpc.__version__,
            "shapes": shapes_out,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
