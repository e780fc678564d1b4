"""The SQLite result store: schema and migrations, writes from runs, queries for the UI and reports, export."""

from .db import SCHEMA_VERSION, RunTakenOver, Store, StoreError, default_db_path

__all__ = ["SCHEMA_VERSION", "RunTakenOver", "Store", "StoreError", "default_db_path"]
