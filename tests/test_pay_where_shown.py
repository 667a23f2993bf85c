"""Each optional part of a thread page is looked for only where the page's text holds its
markers (scraper.thread_extras._MARKERS and the rest): the guard may skip work, never rows.
Every fixture page gives the same ThreadPage with the guards as without them (a guard that
always lets the part be looked for)."""

import re
from pathlib import Path

import pytest

from scraper import thread, thread_extras
from scraper.problems import PageProblem
from scraper.thread import parse_thread_page

TESTS = Path(__file__).parent
# The fixtures and the corpus's own pages (mcbbs' 点评 and guest thumbnails, talkop's catalogues).
PAGES = sorted(path for folder in (TESTS / "fixtures", TESTS / "corpus/pages") for path in folder.rglob("*.htm*")
               if b"viewthread" in path.read_bytes() or "thread" in path.name)
URL = "http://127.0.0.1:8080/forum.php?mod=viewthread&tid=1&page=1"


def parse(path: Path):
    try:
        return parse_thread_page(path.read_bytes(), URL)
    except PageProblem as problem:
        return problem.kind


def test_the_pages_show_every_part():
    """The fixtures hold each part the guards skip, or the comparison below proves little."""
    extras = [page.extras for page in map(parse, PAGES) if not isinstance(page, str)]
    assert any(e.comments for e in extras) and any(e.comments_more for e in extras)
    assert any(e.ratings for e in extras) and any(e.ratings_more for e in extras)
    assert any(e.attachments for e in extras) and any(e.poll for e in extras) and any(e.type_id for e in extras)


@pytest.mark.parametrize("path", PAGES, ids=lambda path: path.name)
def test_the_guards_skip_no_row(path, monkeypatch):
    guarded = parse(path)
    monkeypatch.setattr(thread_extras, "_MARKERS", {part: ("",) for part in thread_extras._MARKERS})
    monkeypatch.setattr(thread_extras, "_COMMENT_BLOCK_SHOWN", re.compile(""))
    monkeypatch.setattr(thread, "_ATTACHMENT_MARKERS", ("",))
    assert parse(path) == guarded
