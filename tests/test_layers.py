"""The house rules anyone can check: the pure core stays pure (scraper/ never imports Scrapy),
imports run one way, modules are read in one sitting, comments hold no measurements."""

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = ("scraper", "spiders", "pipelines", "export", "commands", "sample_forum", "browse")
# What writes the archive: a spider reaches storage through pipelines.reader (the page reader)
# and pipelines.state (what is archived) only.
WRITING_MODULES = ("pipelines.archive", "pipelines.store", "pipelines.sql", "pipelines.schema",
                   "pipelines.rawpages", "pipelines.runs", "pipelines.lock", "pipelines.worker")


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
        for writer in WRITING_MODULES:
            assert writer not in source, (path, writer)


def test_pipelines_never_import_the_spiders():
    """Storage sits under the spiders: what both need (a refusal and how it is recorded, a
    request's cookies) lives in pipelines/ or scraper/, never reached up for in spiders/."""
    for path in (ROOT / "pipelines").glob("*.py"):
        assert "spiders" not in imported_modules(path), path


def test_project_imports_run_one_way():
    """No import circle between the project's modules (the pipeline uses the worker and the
    store, the worker the store, the store never either of them)."""
    graph = {module: project_imports(path) for module, path in project_modules().items()}
    for start in graph:
        seen, todo = set(), [(start, (start,))]
        while todo:
            module, route = todo.pop()
            for imported in graph.get(module, ()):
                assert imported != start, " -> ".join((*route, imported))
                if imported not in seen:
                    seen.add(imported)
                    todo.append((imported, (*route, imported)))


def project_modules() -> dict[str, Path]:
    return {
        f"{path.parent.name}.{path.stem}": path
        for folder in PACKAGES
        for path in (ROOT / folder).glob("*.py")
        if path.stem != "__init__"
    }


def project_imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (anywhere in it, in functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # from package import module
    return {name for name in names if name.split(".")[0] in PACKAGES and name.count(".") == 1} - {None}


def code_files():
    for package in PACKAGES:
        yield from (ROOT / package).rglob("*.py")


def test_no_module_is_longer_than_one_sitting():
    long = {str(path.relative_to(ROOT)): n for path in code_files() if (n := len(path.read_text("utf-8").splitlines())) > 450}
    assert long == {}, "split these: one concern a module"


# A measurement in a comment: "45 µs per post", "4 -> 105 pages/s", "7.1 -> 4.7 ms".
FIGURE = re.compile(r"\d\s*(?:µs|ms\b|pages/s|rows/s|posts/s|MB/s)|\d\s*(?:->|→)\s*\d")


def test_comments_say_why_and_leave_figures_to_the_benchmark():
    """Figures belong in bench/README.md, where they are dated and can be taken again."""
    found = []
    for path in code_files():
        for token in tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline):
            if token.type == tokenize.COMMENT and FIGURE.search(token.string):
                found.append(f"{path.relative_to(ROOT)}:{token.start[0]}: {token.string}")
    assert found == []
