"""Fixtures: a client of the real server that test/clients/python.test.ts started.

TESSERA_TEST_ADDRESS: plaintext address of a server with tests/repo applied and an offline store.
TESSERA_TEST_TLS_ADDRESS, TESSERA_TEST_CA_FILE, TESSERA_TEST_READ_KEY: the same server's TLS
listener, which requires API keys, and a key of the read scope. Server tests are skipped without
them (the unit tests of the retry policy run anywhere); the vitest wrapper fails on any skip.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator

import pandas as pd
import pytest

from tessera_client import Client

_ids = itertools.count(random.randrange(1, 2**40) * 1_000)


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.skip(f"{name} is not set (run through test/clients/python.test.ts)")
    return value


@pytest.fixture
def address() -> str:
    return env("TESSERA_TEST_ADDRESS")


@pytest.fixture
def client(address: str) -> Iterator[Client]:
    with Client(address, timeout=20) as c:
        yield c


@pytest.fixture
def new_id() -> "itertools.count[int]":
    """Customer ids no other test uses (the tests share one server)."""
    return _ids


@pytest.fixture
def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("ms")
