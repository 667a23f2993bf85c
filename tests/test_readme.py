"""The README's tables of spider arguments and settings match the code, both ways.

A user reads the README, not the code: an argument or an ARCHIVE_*/DISCUZ_* setting the code
takes must be in its table, and one the table lists must still exist.
"""

import inspect
import re
from pathlib import Path

import pytest

from spiders.discuz import DiscuzSpider

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
OURS = re.compile(r"\b(?:ARCHIVE|DISCUZ)_[A-Z_]+\b")
CODE_FOLDERS = ("scraper", "spiders", "pipelines", "commands", "export", "sample_forum", "browse")


def table_after(heading: str) -> list[list[str]]:
    """The rows of the first Markdown table after ``heading``, as lists of cells."""
    text = README.split(heading, 1)[1]
    rows, started = [], False
    for line in text.splitlines():
        if line.startswith("|"):
            started = True
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if not set(cells[0]) <= {"-", ":"}:
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header


def names_in(cell: str) -> set[str]:
    return set(re.findall(r"`([^`]+)`", cell))


def documented_arguments() -> set[str]:
    return {name for row in table_after("### Spider arguments") for name in names_in(row[0])}


def documented_settings() -> set[str]:
    return {name for row in table_after("### Settings") for name in names_in(row[0])}


def settings_in_code() -> set[str]:
    """Our settings: those read through Scrapy's settings anywhere in the code, and those the
    settings module declares."""
    found = set()
    for folder in CODE_FOLDERS:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if path.name == "settings.py":
                found |= {name for name in OURS.findall(text) if re.search(rf"^{name}\s*=", text, re.M)}
            found |= set(re.findall(r"""settings(?:\.get\w*\(|\[)\s*["']((?:ARCHIVE|DISCUZ)_[A-Z_]+)["']""", text))
    return found


def test_every_spider_argument_is_documented_and_every_documented_one_exists():
    taken = {
        name
        for name, parameter in inspect.signature(DiscuzSpider.__init__).parameters.items()
        if name != "self" and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }
    assert taken, "the spider takes no arguments? this test reads DiscuzSpider.__init__"
    assert taken - documented_arguments() == set(), "arguments missing from the README's table"
    assert documented_arguments() - taken == set(), "the README documents arguments the spider no longer takes"


def test_every_setting_of_ours_is_documented_and_every_documented_one_exists():
    in_code = settings_in_code()
    assert {"ARCHIVE_DB", "DISCUZ_UTC_OFFSET"} <= in_code, "the settings scan finds nothing: fix it"
    documented = {name for name in documented_settings() if OURS.fullmatch(name)}
    assert in_code - documented == set(), "settings missing from the README's table"
    assert documented - in_code == set(), "the README documents settings the code no longer reads"


@pytest.mark.parametrize("heading", ["### Spider arguments", "### Settings"])
def test_the_tables_are_found(heading):
    assert len(table_after(heading)) >= 5


def test_the_readme_is_for_users():
    # 22,000 since the round of issues 20-25, each of which asked for its part in the README
    # itself: what the real pages prove (21), what a scheduled run costs (20, a tested table),
    # Discuz's own defences and what the crawler does about each (23), an analysis example a
    # user copies (25, run by tests/test_export_analysis.py) and how to publish a mirror (22).
    # What was not for users went to docs/ (scheduled-crawls.md, mirror.md, web-archives.md).
    assert len(README) < 22_000, "keep the README short: measurements go to bench/README.md, history to CHANGES.md"
    first_commands = re.findall(r"```bash\n(.*?)```", README, re.S)[:2]
    assert "scrapy crawl discuz" in first_commands[0] and "pytest" in first_commands[1]
