"""The command that serves an archive with this checkout's plugin, for the tests and the bench.

requirements.txt installs the plugin (``pip install -e .``), but the virtualenv may hold
another checkout's install, or none (made before the plugin existed). This checkout's folder
goes first on PYTHONPATH, so the entry point imports its ``browse``; without the entry point,
``--plugins-dir`` loads it.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def datasette_command(database: Path, *arguments: str, port: int = 0) -> tuple[list[str], dict[str, str]]:
    """``python -m datasette serve DATABASE ARGUMENTS`` on 127.0.0.1:PORT, and its environment."""
    command = [sys.executable, "-m", "datasette", "serve", str(database), *arguments, "--host", "127.0.0.1", "--port", str(port)]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")]))
    if not {"browse.plugin", "browse.media"} <= {point.value for point in entry_points(group="datasette")}:
        plugins = database.parent / "plugins"
        plugins.mkdir(exist_ok=True)
        (plugins / "discuz_archive.py").write_text("from browse.plugin import *  # noqa: F403\n")
        (plugins / "discuz_archive_media.py").write_text("from browse.media import *  # noqa: F403\n")
        command += ["--plugins-dir", str(plugins)]
    return command, environment
