"""The pure core stays pure: scraper/ never imports Scrapy (the layering the project relies on)."""

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_scraper_never_imports_scrapy_or_storage():
    for path in (ROOT / "scraper").glob("*.py"):
        assert not imported_modules(path) & {"scrapy", "twisted", "sqlite_utils", "spiders", "pipelines"}, path


def test_spiders_only_read_what_the_archive_holds():
    """The spider decides what to fetch from pipelines.state (read-only); only pipelines write."""
    for path in (ROOT / "spiders").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert not imported_modules(path) & {"sqlite_utils", "sqlite3"}, path
        assert "pipelines.sqlite" not in source, path
