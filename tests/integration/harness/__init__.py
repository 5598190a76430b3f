"""Integration test harness for pgwarden: a throwaway PostgreSQL (PgCluster),
the daemon under test (Pgwarden), and helpers for the real clients."""

from .cluster import PgCluster
from .pgwarden import Pgwarden, PgwardenError, binary_path
from .clients import client_env, psql, conninfo

__all__ = ["PgCluster", "Pgwarden", "PgwardenError", "binary_path", "client_env", "psql",
           "conninfo"]
