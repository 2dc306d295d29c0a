"""mTLS and API keys against the real server's authenticated listener."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import env
from tessera_client import Client, FeatureStatus, PermissionDenied, RetryPolicy, TLSConfig, Unauthenticated, Unavailable


@pytest.fixture
def tls_address() -> str:
    return env("TESSERA_TEST_TLS_ADDRESS")


@pytest.fixture
def tls() -> TLSConfig:
    return TLSConfig(
        ca_file=env("TESSERA_TEST_CA_FILE"),
        cert_file=env("TESSERA_TEST_CLIENT_CERT"),
        key_file=env("TESSERA_TEST_CLIENT_KEY"),
    )


def test_cannot_connect_without_a_client_certificate(tls_address: str) -> None:
    no_cert = TLSConfig(ca_file=env("TESSERA_TEST_CA_FILE"))
    quick = RetryPolicy(max_attempts=2, initial_backoff_seconds=0.01, max_backoff_seconds=0.02)
    with Client(tls_address, tls=no_cert, api_key=env("TESSERA_TEST_READ_KEY"), timeout=10, retry=quick) as client:
        with pytest.raises(Unavailable):
            client.get_online_features(["customer_stats:purchases"], {"customer_id": [1]})


def test_refuses_a_call_without_a_key(tls_address: str, tls: TLSConfig) -> None:
    with Client(tls_address, tls=tls) as client, pytest.raises(Unauthenticated):
        client.get_online_features(["customer_stats:purchases"], {"customer_id": [1]})


def test_refuses_an_unknown_key(tls_address: str, tls: TLSConfig) -> None:
    with Client(tls_address, tls=tls, api_key="tsk_nope_notasecret") as client, pytest.raises(Unauthenticated):
        client.get_online_features(["customer_stats:purchases"], {"customer_id": [1]})


def test_reads_over_tls_with_a_read_key_but_may_not_write(tls_address: str, tls: TLSConfig, now) -> None:
    with Client(tls_address, tls=tls, api_key=env("TESSERA_TEST_READ_KEY")) as client:
        read = client.get_online_features(["customer_stats:purchases"], {"customer_id": [-1]})
        with pytest.raises(PermissionDenied):
            client.write(
                pd.DataFrame({"customer_id": [1], "event_timestamp": [now], "purchases": [1]}), "customer_stats"
            )

    assert read["customer_stats@1:purchases__status"] == [FeatureStatus.NOT_FOUND]
