"""Integration test harness for pgwarden: a throwaway PostgreSQL (PgCluster),
the daemon under test (Pgwarden), and helpers for the real clients."""

from .cluster import PgCluster  # noqa: F401
from .pgwarden import Pgwarden, PgwardenError, binary_path  # noqa: F401
from .clients import client_env, psql, conninfo  # noqa: F401
