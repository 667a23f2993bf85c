"""The archive: schema, writes, the worker process, the media store, re-parse.

sqlite-utils imports pandas and numpy whenever they are installed, only to type pandas values
on insert, which the archive never writes. requirements.txt installs pandas for the README's
analysis example, and both would then load in every process that touches the archive: the
crawl's, its worker, each of a fleet's workers. So sqlite-utils is loaded here, before any
module of the package can import it, with those two imports failing; pandas stays importable
for whoever wants it afterwards (the exports, a notebook).
"""

import importlib
import sys

_SKIPPED = ("pandas", "numpy")


def _load_sqlite_utils_without_pandas() -> None:
    if "sqlite_utils" in sys.modules or any(name in sys.modules for name in _SKIPPED):
        return  # already loaded, or pandas is in use anyway: nothing to save
    for name in _SKIPPED:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
    try:
        importlib.import_module("sqlite_utils")
    finally:
        for name in _SKIPPED:
            del sys.modules[name]


_load_sqlite_utils_without_pandas()
