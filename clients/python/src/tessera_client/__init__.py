"""Python client of the Tessera feature store.

>>> from tessera_client import Client
>>> with Client("127.0.0.1:6566") as client:
...     client.get_online_features(["customer_stats:loyalty_score"], {"customer_id": [1001, 1013]})
"""

from ._retry import RetryPolicy
from .client import (
    EVENT_TIMESTAMP_SUFFIX,
    STATUS_SUFFIX,
    Client,
    FeatureStatus,
    TLSConfig,
    WriteResult,
)
from .errors import (
    AlreadyExists,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Problem,
    ResourceExhausted,
    TesseraError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)

__all__ = [
    "AlreadyExists",
    "Client",
    "DeadlineExceeded",
    "EVENT_TIMESTAMP_SUFFIX",
    "FailedPrecondition",
    "FeatureStatus",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "Problem",
    "ResourceExhausted",
    "RetryPolicy",
    "STATUS_SUFFIX",
    "TLSConfig",
    "TesseraError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "WriteResult",
]
