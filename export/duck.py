"""DuckDB reading the archive itself: its sqlite extension, loaded from a Python package.

DuckDB's ``ATTACH 'archive.db' (TYPE sqlite)`` needs the sqlite extension, which DuckDB
downloads from its own site on first use: that fails offline, or where only the package
registries are reachable. The ``duckdb-extension-sqlite-scanner`` package (requirements.txt)
ships the extension's binary for the DuckDB version it pins; DuckDB checks its signature as it
loads it (unsigned extensions stay refused), so it is DuckDB's own build. Example::

    import duckdb
    from export.duck import load_sqlite

    con = duckdb.connect()
    load_sqlite(con)
    con.sql("ATTACH 'archive.db' AS archive (TYPE sqlite, READ_ONLY)")
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path


def sqlite_extension() -> Path:
    """The sqlite extension's file in the installed package."""
    spec = find_spec("duckdb_extension_sqlite_scanner")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(
            "DuckDB's sqlite extension is not installed: pip install -r requirements.txt "
            "(duckdb-extension-sqlite-scanner)"
        )
    return next(Path(spec.origin).parent.rglob("sqlite_scanner.duckdb_extension"))


def load_sqlite(con) -> None:  # con: a duckdb.DuckDBPyConnection (duckdb is imported by the caller)
    """Load the sqlite extension into ``con`` from the package, with no download."""
    con.load_extension(str(sqlite_extension()))
