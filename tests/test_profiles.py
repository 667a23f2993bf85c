"""Selector profiles: each markup generation read by its own, and a user's override file for
a modified theme (examples/profiles.toml, documented in docs/profiles.md)."""

import hashlib
import shutil
from pathlib import Path

import pytest
from sqlite_utils import Database

from pipelines.reparse import main as reparse_main
from pipelines.store import open_archive, save_in_one_transaction
from sample_forum import serve
from scraper.thread import parse_thread_page
from scraper.problems import PageProblem
from scraper.models import FetchedPage
from scraper.profiles_file import profiles_from_toml
from scraper.reading import fill_fetched_page

X35 = "http://127.0.0.1:8080/"
ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "profiles.toml"


def parse(fixture_bytes, name, url, **kwargs):
    return parse_thread_page(fixture_bytes(f"discuz/{name}"), url, **kwargs)


@pytest.mark.parametrize(
    "name, url, profile",
    [
        ("x35-robot-thread-16-p1.html", X35 + "thread-16-1-1.html", "x3"),
        ("x34-utf8-talkop-thread-p1of6.html", "http://bbs.talkop.com/thread-112530-1-1.html", "x3"),
        ("x25-utf8-bagdax-uyghur-rtl-thread-p1of5.html", "http://bbs.bagdax.cn/thread4460.html", "x3"),
        ("x35-touch-thread-16-p1.html", X35 + "forum.php?mod=viewthread&tid=16&page=1", "touch"),
        ("d6era-metagbk-bytesutf8-shiftcn-wayback-thread-legacy.html", "https://shiftcn.com/bbs/read.php?tid-17017.html", "generic"),
    ],
)
def test_each_generation_is_read_by_its_profile(fixture_bytes, name, url, profile):
    page = parse(fixture_bytes, name, url)
    assert page.profile == profile
    assert page.posts and all(post.author for post in page.posts)


# Discuz 7.2's thread page, as its templates write it (vulhub/discuz7 templates/default:
# viewthread.htm:14 div#nav; viewthread_node.htm:172 a.posterlink, 203-205 div#threadtitle,
# 263-264 td.t_msgfont#postmessage_PID; global.func.php:764-776 div.pages). No real 7.x thread
# page is among the fixtures; its listing page (d7x-utf8-uwants-forumdisplay) is.
D7_PAGE = """<html><head><meta name="generator" content="Discuz! 7.2" /><title>舊帖 - 灌水區</title></head><body>
<div id="nav"><a href="index.php">論壇</a> &raquo; <a href="forumdisplay.php?fid=7">灌水區</a> &raquo; 舊帖</div>
<div class="pages"><em>&nbsp;12&nbsp;</em><strong>1</strong><a href="viewthread.php?tid=88&amp;page=2">2</a>
<a href="viewthread.php?tid=88&amp;page=2" class="next">&rsaquo;&rsaquo;</a></div>
<div id="threadtitle"><h1>舊帖</h1></div>
<div id="postlist" class="mainbox viewthread">
<div id="post_501"><table id="pid501" summary="pid501" cellspacing="0" cellpadding="0"><tr>
<td class="postauthor" rowspan="2"><div class="postinfo"><a href="space.php?uid=42" target="_blank" id="userinfo501" class="posterlink">阿明</a></div></td>
<td class="postcontent"><div class="postinfo"><strong><a title="複製本帖連結" id="postnum501" href="javascript:;"><em>1</em><sup>#</sup></a></strong>
<div class="posterinfo"><div class="authorinfo"><em id="authorposton501">發表於 2009-5-1 12:00</em></div></div></div>
<div class="defaultpost"><div class="postmessage firstpost"><div class="t_msgfontfix"><table cellspacing="0" cellpadding="0"><tr>
<td class="t_msgfont" id="postmessage_501">第一行<font style="font-size:0px;color:#FFFFFF">x7Qa</font><br />第二行</td></tr></table></div></div></div></td></tr></table></div>
<div id="post_502"><table id="pid502" summary="pid502" cellspacing="0" cellpadding="0"><tr>
<td class="postauthor" rowspan="2"><div class="postinfo"><a href="space.php?uid=43" target="_blank" id="userinfo502" class="posterlink">小華</a></div></td>
<td class="postcontent"><div class="postinfo"><strong><a title="複製本帖連結" id="postnum502" href="javascript:;"><em>2</em><sup>#</sup></a></strong>
<div class="posterinfo"><div class="authorinfo"><em id="authorposton502">發表於 2009-5-2 08:30</em></div></div></div>
<div class="defaultpost"><div class="postmessage"><div class="t_msgfontfix"><table cellspacing="0" cellpadding="0"><tr>
<td class="t_msgfont" id="postmessage_502">同意</td></tr></table></div></div></div></td></tr></table></div>
</div></body></html>""".encode()


def test_discuz_7_page_is_read_by_the_d7_profile():
    page = parse_thread_page(D7_PAGE, "http://bbs.example.com/viewthread.php?tid=88")
    assert page.profile == "d7"
    assert (page.tid, page.page, page.page_count, page.title) == (88, 1, 2, "舊帖")
    assert (page.fid, page.forum_name) == (7, "灌水區")
    assert [(p.pid, p.floor, p.author, p.author_uid) for p in page.posts] == [(501, 1, "阿明", 42), (502, 2, "小華", 43)]
    assert [p.posted_at for p in page.posts] == ["2009-05-01T12:00:00+08:00", "2009-05-02T08:30:00+08:00"]
    assert page.posts[0].content_text == "第一行\n第二行"  # the font-size:0 noise is gone


# A modified theme: the X3.5 page with its post list, message cells, author boxes and times
# renamed, as theme authors do. The generic selectors then find no post at all.
RENAMES = [
    ('id="postlist"', 'id="threadposts"'),
    ('id="postmessage_', 'id="msg_'),
    ('class="t_f"', 'class="content"'),
    ('id="authorposton', 'id="posted'),
    ('class="authi"', 'class="poster"'),
    ('id="favatar', 'id="face'),
]


def renamed_theme(body: bytes) -> bytes:
    text = body.decode("utf-8")
    for old, new in RENAMES:
        assert old in text
        text = text.replace(old, new)
    return text.encode("utf-8")


def test_override_file_reads_a_modified_theme(fixture_bytes):
    url = X35 + "forum.php?mod=viewthread&tid=1&page=1"
    original = parse(fixture_bytes, "x35-robot-thread-1-p1.html", url)
    modified = renamed_theme(fixture_bytes("discuz/x35-robot-thread-1-p1.html"))
    with pytest.raises(PageProblem) as problem:
        parse_thread_page(modified, url)
    assert problem.value.kind == "no_posts"

    page = parse_thread_page(modified, url, profiles=profiles_from_toml(EXAMPLE.read_text("utf-8")))
    assert page.profile == "renamed-x3"
    assert (page.views, page.replies, page.title, page.page_count) == (original.views, original.replies, original.title, 6)
    assert page.posts == original.posts
    assert page.posts[0].author == "见习秘书" and page.posts[0].posted_at == "2013-02-18T22:17:00+08:00"


def test_a_profile_bound_to_a_site_is_used_there_only(fixture_bytes):
    profiles = profiles_from_toml(
        """
        [[profile]]
        name = "our forum"
        extends = "x3"
        sites = ["127.0.0.1:8080"]
        title = "/html/head/title"
        """
    )
    body = fixture_bytes("discuz/x35-robot-thread-16-p1.html")
    ours = parse_thread_page(body, X35 + "thread-16-1-1.html", profiles=profiles)
    elsewhere = parse_thread_page(body, "http://bbs.example.com/thread-16-1-1.html", profiles=profiles)
    assert ours.profile == "our forum" and elsewhere.profile == "x3"
    assert ours.title.endswith("Powered by Discuz!") and not elsewhere.title.endswith("Powered by Discuz!")
    assert ours.posts == elsewhere.posts  # what the profile does not set is x3's


@pytest.mark.parametrize(
    "toml, says",
    [
        ("[[profile]\nname = 1", "not valid TOML"),
        ("[profile]\nname = 'a'\nsites = ['x']", "[[profile]]"),
        ("[[profile]]\nname = 'a'\nsites = ['x']\nauthors = './/a'", "unknown keys ['authors']"),
        ("[[profile]]\nname = 'a'\nsites = ['x']\nextends = 'x4'", "extends 'x4'"),
        ("[[profile]]\nname = 'a'\nauthor = './/a'", "say where it applies"),
        ("[[profile]]\nname = 'a'\nsites = ['x']\nauthor = '//a'", "author is looked for in each post"),
        ("[[profile]]\nname = 'a'\nsites = ['x']\nmessage = './/div[@class='", "message is not a valid XPath"),
        ("[[profile]]\nname = 'a'\nsites = ['x']\ntime = ['.//em', 3]", "time must be a string or a list of strings"),
    ],
)
def test_a_bad_profiles_file_says_what_is_wrong(toml, says):
    with pytest.raises(ValueError, match=None) as error:
        profiles_from_toml(toml)
    assert says in str(error.value)


def test_reparse_with_a_profiles_file_recovers_the_posts_of_a_modified_theme(tmp_path, fixture_bytes, capsys):
    """The crawl kept the page but read no post from it (kind no_posts); the re-parse command
    reads the kept page again with the override file, offline."""
    body = renamed_theme(fixture_bytes("discuz/x35-robot-thread-1-p1.html"))
    page = FetchedPage(
        url=X35 + "forum.php?mod=viewthread&tid=1&page=1", site="127.0.0.1:8080", kind="thread", status=200,
        fetched_at="2026-11-26T12:00:00+00:00", size=len(body), sha256=hashlib.sha256(body).hexdigest(), tid=1,
        asked_as="thread", content_type="text/html; charset=utf-8",
    )
    fill_fetched_page(page, body)
    page.body = body
    crawled, rebuilt = tmp_path / "archive.db", tmp_path / "rebuilt.db"
    save_in_one_transaction(open_archive(crawled), [page])
    assert page.kind == "no_posts" and Database(crawled)["comments"].count == 0

    assert reparse_main([str(crawled), str(rebuilt), "--profiles", str(EXAMPLE)]) == 0
    db = Database(rebuilt)
    assert [row["author"] for row in db["articles"].rows] == ["见习秘书"]
    assert db["comments"].count == 9

    bad = tmp_path / "bad.toml"
    bad.write_text("[[profile]]\nname = 'x'\nsites = ['a']\nauthor = '//a'\n", "utf-8")
    assert reparse_main([str(crawled), str(tmp_path / "other.db"), "--profiles", str(bad)]) == 2
    assert "x: author is looked for in each post" in capsys.readouterr().err
    assert reparse_main([str(crawled), str(tmp_path / "other.db"), "--profiles", str(tmp_path / "none.toml")]) == 2
    assert "cannot read the profiles file" in capsys.readouterr().err


def test_a_crawl_of_a_modified_theme_is_completed_by_a_run_with_the_profiles_file(tmp_path, scrapy_crawl):
    """The whole sample forum with the renamed theme: a crawl without the file records its
    thread pages as no_posts; the next run, with the file and refresh=all, archives every post."""
    forum_dir = tmp_path / "forum"
    shutil.copytree(ROOT / "sample_forum" / "v1", forum_dir)
    for page in forum_dir.glob("thread-*.html"):
        text = page.read_text("utf-8")
        for old, new in RENAMES:
            text = text.replace(old, new)
        page.write_text(text, "utf-8")
    db_path = tmp_path / "archive.db"
    with serve(forum_dir) as forum:
        first = scrapy_crawl(db_path, f"url={forum.base_url}forum.php", check=False)
        assert "no posts found on the page (an unknown template?) (no_posts)" in first.stderr
        db = Database(db_path)
        assert db.execute("SELECT count(*) FROM pages WHERE kind = 'no_posts'").fetchone()[0] == 28
        # read: only the posts Discuz replaced with a notice (div.locked, which the theme kept)
        read = "SELECT flags FROM articles WHERE content_text IS NOT NULL UNION ALL SELECT flags FROM comments"
        assert sorted(flags for (flags,) in db.execute(read).fetchall()) == ['["blocked"]', '["hidden"]', '["masked"]']

        # refresh=all: the three threads read in part are read again too
        second = scrapy_crawl(db_path, f"url={forum.base_url}forum.php", f"profiles={EXAMPLE}", "refresh=all", check=False)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "'archive/profiles/renamed-x3'" in second.stderr
    assert (db["articles"].count, db["comments"].count) == (30, 314)  # as from the unmodified forum


def test_a_wrong_profiles_file_stops_the_crawl_before_its_first_request(tmp_path, scrapy_crawl):
    bad = tmp_path / "theme.toml"
    bad.write_text("[[profile]]\nname = 'ours'\nsites = ['127.0.0.1:9']\nmessage = './/td[@class='\n", "utf-8")
    result = scrapy_crawl(tmp_path / "a.db", "url=http://127.0.0.1:9/thread-1-1-1.html", f"profiles={bad}", check=False)
    assert result.returncode == 2  # a bad argument (spiders.arguments.check)
    assert f"profiles={bad}: ours: message is not a valid XPath" in result.stderr
    assert "Crawled (" not in result.stderr


def test_a_profile_may_select_text_instead_of_elements(fixture_bytes):
    """Users write text() and @attribute selectors too: they give the same words."""
    profiles = profiles_from_toml(
        """
        [[profile]]
        name = "text selectors"
        extends = "x3"
        sites = ["127.0.0.1:8080"]
        title = "id('thread_subject')/text()"
        time = "id(concat('authorposton', $pid))/text()"
        views_replies = "id('postlist')/table[1]//span[@class='xi1']/text()"
        message = ["id(concat('postmessage_', $pid))/@id", "id(concat('postmessage_', $pid))"]
        """
    )
    body = fixture_bytes("discuz/x35-robot-thread-1-p1.html")
    url = X35 + "forum.php?mod=viewthread&tid=1&page=1"
    page, expected = parse_thread_page(body, url, profiles=profiles), parse_thread_page(body, url)
    assert page.profile == "text selectors"
    assert (page.title, page.views, page.replies) == (expected.title, expected.views, expected.replies)
    assert page.posts == expected.posts
