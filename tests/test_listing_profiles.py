"""Listing profiles: a profiles file fixes a forum list whose theme renamed its markup, as
[[profile]] tables fix thread pages (docs/profiles.md)."""

from pathlib import Path

import pytest

from scraper.kinds import PageKind
from scraper.listing import parse_forum_page
from scraper.listing_profiles import GENERIC, D7, TOUCH, X3
from scraper.models import FetchedPage
from scraper.problems import PageProblem
from scraper.profiles_file import profiles_from_toml
from scraper.reading import fill_fetched_page

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "profiles.toml"
TALKOP = "http://bbs.talkop.com/forum-49-1.html"
# A modified theme: the real X3.4 list with its thread table, row ids, title links and the
# author and count cells renamed. Without row ids the thread list is found by its container,
# and that is renamed too, so the generic selectors find no list at all.
RENAMES = [
    ('id="normalthread_', 'id="topic_'),
    ('id="threadlisttableid"', 'id="topiclist"'),
    ('id="threadlist"', 'id="topics"'),
    ('summary="forum_', 'summary="board_'),
    ('xst"', 'topic-title"'),
    ('class="by"', 'class="who"'),
    ('class="num"', 'class="counts"'),
]


def renamed_list(body: bytes) -> bytes:
    text = body.decode("utf-8")
    for old, new in RENAMES:
        assert old in text
        text = text.replace(old, new)
    return text.encode("utf-8")


def test_a_profiles_file_reads_a_renamed_forum_list(fixture_bytes):
    body = fixture_bytes("discuz/x34-utf8-talkop-forumdisplay.html")
    original = parse_forum_page(body, TALKOP)
    assert len(original.threads) == 14 and original.threads[0].author == "鹰目"
    modified = renamed_list(body)
    with pytest.raises(PageProblem) as problem:
        parse_forum_page(modified, TALKOP)
    assert problem.value.kind == PageKind.NO_LISTING

    page = parse_forum_page(modified, TALKOP, profiles=profiles_from_toml(EXAMPLE.read_text("utf-8")))
    assert page == original  # every row: title, URL, author, counts, last post, marks
    assert (page.threads[0].replies, page.threads[0].views) == (1121, 64782)


def test_a_listing_profile_with_only_the_list_container_finds_the_rows_by_their_links(fixture_bytes):
    body = fixture_bytes("discuz/x34-utf8-talkop-forumdisplay.html")
    original = parse_forum_page(body, TALKOP)
    profiles = profiles_from_toml(
        """
        [[listing]]
        name = "container only"
        sites = ["bbs.talkop.com"]
        thread_list = "id('topiclist')"
        """
    )
    page = parse_forum_page(renamed_list(body), TALKOP, profiles=profiles)
    assert [(row.tid, row.url) for row in page.threads] == [(row.tid, row.url) for row in original.threads]
    assert page.threads[0].title == original.threads[0].title  # by the link with words on it


def test_the_crawl_reader_hands_listing_profiles_to_forum_pages(fixture_bytes):
    body = renamed_list(fixture_bytes("discuz/x34-utf8-talkop-forumdisplay.html"))
    profiles = profiles_from_toml(EXAMPLE.read_text("utf-8"))
    pages = []
    for given in ((), profiles):
        page = FetchedPage(url=TALKOP, site="bbs.talkop.com", kind=PageKind.FORUM, status=200,
                           fetched_at="2026-12-01T00:00:00+00:00", size=len(body), sha256="",
                           asked_as=PageKind.FORUM, content_type="text/html; charset=utf-8")
        fill_fetched_page(page, body, profiles=given)
        pages.append(page)
    assert pages[0].kind == "no_listing" and pages[0].forum is None
    assert pages[1].kind == "forum" and len(pages[1].forum.threads) == 14


def test_the_generic_listing_profile_tries_every_generation():
    for field in ("title", "author", "replies", "views"):
        for generation in (X3, D7, TOUCH):
            assert set(getattr(generation, field)) <= set(getattr(GENERIC, field)), (generation.name, field)


@pytest.mark.parametrize(
    "toml, says",
    [
        ("[[listing]]\nname = 'a'\nsites = ['x']\ntitles = './/a'", "unknown keys ['titles']"),
        ("[[listing]]\nname = 'a'\nsites = ['x']\nextends = 'x4'", "extends 'x4'"),
        ("[[listing]]\nname = 'a'\ntitle = './/a'", "say where it applies"),
        ("[[listing]]\nname = 'a'\nsites = ['x']\nauthor = '//td'", "author is looked for in each row"),
        ("[[listing]]\nname = 'a'\nsites = ['x']\nsticky = \".//img/@alt = 'pin'\"", "sticky must find elements"),
        ("[[listing]]\nname = 'a'\nsites = ['x']\nrows = '//tr['", "rows is not a valid XPath"),
        ("[listing]\nname = 'a'\nsites = ['x']", "[[listing]]"),
        ("[[listings]]\nname = 'a'", "unknown tables ['listings']"),
    ],
)
def test_a_bad_listing_profile_says_what_is_wrong(toml, says):
    with pytest.raises(ValueError) as error:
        profiles_from_toml(toml)
    assert says in str(error.value)


def test_the_documented_listing_profile_is_the_tested_example():
    docs = (ROOT / "docs" / "profiles.md").read_text("utf-8")
    block = docs.split("```toml\n[[listing]]", 1)[1].split("```", 1)[0]
    documented = profiles_from_toml("[[listing]]" + block)
    example = [p for p in profiles_from_toml(EXAMPLE.read_text("utf-8")) if p.name == "renamed-x3-list"]
    assert list(documented) == example
