"""Shared test helpers: the real pages under tests/fixtures/ (see tests/fixtures/README.md), and
`scrapy crawl discuz` run as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
# Our own servers on 127.0.0.1: no polite waiting, no progress lines.
FAST = {"AUTOTHROTTLE_ENABLED": 0, "DOWNLOAD_DELAY": 0, "PROGRESS_INTERVAL": 0}


@pytest.fixture
def fixture_bytes():
    def read(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    return read


def crawl_command(db_path, *arguments: str, settings: dict | None = None, fast: bool = True) -> list[str]:
    """``scrapy crawl discuz`` into ``db_path`` with spider ``arguments`` ("name=value") and
    ``settings`` (over FAST unless ``fast`` is false: the project's own settings)."""
    command = [sys.executable, "-m", "scrapy", "crawl", "discuz", "-s", f"ARCHIVE_DB={db_path}"]
    for name, value in ((FAST if fast else {}) | (settings or {})).items():
        command += ["-s", f"{name}={value}"]
    for argument in arguments:
        command += ["-a", argument]
    return command


@pytest.fixture(scope="session")
def scrapy_crawl():
    """Run a crawl to its end: ``scrapy_crawl(db_path, "url=...", settings={...}, check=True,
    env=None, fast=True)``. ``check`` asserts it succeeded; ``env`` replaces the environment (keep
    the project on its PYTHONPATH). ``scrapy_crawl.command`` gives the command line, to start it
    yourself."""

    def run(db_path, *arguments: str, settings: dict | None = None, check=True, env: dict | None = None, fast=True):
        result = subprocess.run(
            crawl_command(db_path, *arguments, settings=settings, fast=fast),
            cwd=ROOT, capture_output=True, text=True, timeout=300, env=env or os.environ | {"PYTHONPATH": str(ROOT)},
        )
        if check:
            assert result.returncode == 0, result.stderr[-3000:]
        return result

    run.command = crawl_command
    return run


@pytest.fixture(scope="session")
def features_crawls(tmp_path_factory, scrapy_crawl):
    """The discuz-x-features forum crawled from its index (tests/features_truth.py), once for
    every module that reads it: v1, v1 again, v2 as the thread lists show it, v2 with
    refresh=all. Each stage's archive (a copy), the requests the server got, the crawl's result."""
    from tests.features_truth import crawl_stages

    stages = [("v1", "v1", ("user_profiles=1",)), ("v1-again", "v1", ("user_profiles=1",)),
              ("v2", "v2", ("user_profiles=1",)), ("v2-refresh", "v2", ("user_profiles=1", "refresh=all"))]
    return crawl_stages(tmp_path_factory.mktemp("features"), scrapy_crawl, stages)
