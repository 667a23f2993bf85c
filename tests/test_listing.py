"""Forum listings and the site index, on the sample forum (checked against its database) and on
real pages of three other sites and the touch template."""

import ast
import csv
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scraper import listing
from scraper.problems import PageProblem
from scraper.forum_index import parse_index_html, parse_index_page
from scraper.listing import parse_forum_html, parse_forum_page
from scraper.urls import ForumRef, category_gid, forum_ref, is_index_url, listed_thread_url

SAMPLE = Path(__file__).resolve().parent.parent / "sample_forum"
X35 = "http://127.0.0.1:8080/"
CST = timezone(timedelta(hours=8))
PER_PAGE = 10  # topicperpage in TRUTH.json settings


def sample_pages(version):
    """(file, url, fetched_at) of every saved page of the sample forum, from URLS.tsv."""
    with open(SAMPLE / version / "URLS.tsv", encoding="utf-8") as tsv:
        for row in csv.DictReader(tsv, delimiter="\t"):
            fetched = datetime.fromtimestamp(int(row["fetched_at_unix"]), timezone.utc)
            yield row["file"], X35 + row["url"], fetched


def truth(version):
    return json.loads((SAMPLE / version / "TRUTH.json").read_text(encoding="utf-8"))


LISTINGS = [
    (version, name, url, fetched)
    for version in ("v1", "v2")
    for name, url, fetched in sample_pages(version)
    if (ref := forum_ref(url)) is not None and ref.fid != 99
]


def test_every_listing_page_of_the_sample_is_covered():
    assert {(v, n) for v, n, _, _ in LISTINGS} >= {
        ("v1", "forum-2-1.html"), ("v1", "forum-2-2.html"), ("v1", "forum-3-1.html"), ("v1", "forum-4-1.html"),
        ("v1", "forum.php@mod=forumdisplay&fid=2.html"), ("v2", "forum-2-2.html"),
    }
    assert len(LISTINGS) == 2 * 11  # fid 2: 5 URL forms of 2 pages, fid 3 and 4: 3 each


@pytest.mark.parametrize("version, name, url, fetched", LISTINGS, ids=[f"{v}/{n}" for v, n, _, _ in LISTINGS])
def test_listing_rows_equal_the_database(version, name, url, fetched):
    body = (SAMPLE / version / name).read_bytes()
    page = parse_forum_page(body, url, content_type="text/html; charset=utf-8", fetched_at=fetched)
    data = truth(version)
    fid, asked = forum_ref(url)
    forum = next(f for f in data["forums"] if f["fid"] == fid)
    # Sticky first, then newest activity first; 10 a page.
    ordered = sorted(
        (t for t in data["threads"] if t["fid"] == fid), key=lambda t: (-t["displayorder"], -t["lastpost"])
    )
    expected = ordered[(asked - 1) * PER_PAGE : asked * PER_PAGE]

    assert (page.fid, page.name, page.site) == (fid, forum["name"], "127.0.0.1:8080")
    assert (page.page, page.page_count) == (asked, -(-len(ordered) // PER_PAGE))
    assert [row.tid for row in page.threads] == [t["tid"] for t in expected]
    for row, thread in zip(page.threads, expected):
        last_post = datetime.fromtimestamp(thread["lastpost"], CST).replace(second=0)
        assert row.title == thread["subject"]
        assert (row.author, row.author_uid) == (thread["author"], thread["authorid"])
        assert row.replies == thread["replies"]
        assert thread["views_before_snapshot"] <= row.views <= thread["views_after_snapshot"]
        assert row.last_poster == thread["lastposter"]
        assert row.last_post_at == last_post.isoformat()
        assert row.sticky == (thread["displayorder"] > 0)
        assert not row.digest
        # linked as thread-T-1-PAGE.html (back to listing page PAGE): one URL from every page
        assert row.url == f"{X35}thread-{thread['tid']}-1-1.html"
    assert page.subforums == []


def test_a_theme_without_the_last_post_column_gives_no_last_post_not_the_authors():
    """The sample forum's first listing with each row's last-post cell taken out (a theme
    that shows only the author's td.by): the author and the counts as before, and no last
    poster or time, rather than the author and the thread's start taken for them."""
    version, name, url, fetched = LISTINGS[0]
    body = (SAMPLE / version / name).read_text("utf-8")
    last_cells = re.compile(r'(<td class="num">.*?</td>\s*)<td class="by">.*?</td>', re.S)
    whole = parse_forum_page(body.encode(), url, content_type="text/html; charset=utf-8", fetched_at=fetched)
    cut, cells = last_cells.subn(r"\1", body)
    assert cells == len(whole.threads) + 2  # the rows, the column heads and the separator line
    page = parse_forum_page(cut.encode(), url, content_type="text/html; charset=utf-8", fetched_at=fetched)
    assert [(r.tid, r.author, r.author_uid, r.replies, r.views) for r in page.threads] == [
        (r.tid, r.author, r.author_uid, r.replies, r.views) for r in whole.threads]
    assert all(r.last_poster for r in whole.threads)
    assert {(r.last_poster, r.last_post_at) for r in page.threads} == {(None, None)}
    # the other way round, a theme that keeps the last-post column alone: its last poster and time
    author_cells = re.compile(r'<td class="by">\s*<cite>\s*<a href="home.php\?mod=space&amp;uid=.*?</td>', re.S)
    alone, cells = author_cells.subn("", body)
    assert cells == len(whole.threads)
    page = parse_forum_page(alone.encode(), url, content_type="text/html; charset=utf-8", fetched_at=fetched)
    assert [(r.tid, r.last_poster, r.last_post_at) for r in page.threads] == [
        (r.tid, r.last_poster, r.last_post_at) for r in whole.threads]


def test_pager_links_are_the_forums_own_pages():
    v1 = SAMPLE / "v1"
    first = parse_forum_page((v1 / "forum-2-1.html").read_bytes(), X35 + "forum-2-1.html")
    assert first.page_urls == {2: X35 + "forum-2-2.html"}
    second = parse_forum_page((v1 / "forum.php@mod=forumdisplay&fid=2&page=2.html").read_bytes(), X35 + "forum.php?mod=forumdisplay&fid=2&page=2")
    assert (second.page, second.page_count, second.page_urls) == (2, 2, {1: X35 + "forum-2-1.html"})
    single = parse_forum_page((v1 / "forum-4-1.html").read_bytes(), X35 + "forum-4-1.html")
    assert (single.page, single.page_count, single.page_urls) == (1, 1, {})


def test_page_past_the_end_is_page_one_again():
    # forumdisplay serves page 1 for a page it does not have: trust the pager, not the URL.
    body = (SAMPLE / "v1" / "forum-2-1.html").read_bytes()
    page = parse_forum_page(body, X35 + "forum.php?mod=forumdisplay&fid=2&page=9")
    assert (page.page, page.page_count) == (1, 2)
    single = parse_forum_page((SAMPLE / "v1" / "forum-3-1.html").read_bytes(), X35 + "forum-3-5.html")
    assert (single.page, single.page_count) == (1, 1)


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name, url", [("forum.php.html", "forum.php"), ("forum.php@gid=1.html", "forum.php?gid=1")])
def test_index_and_category_list_the_forums(version, name, url):
    index = parse_index_page((SAMPLE / version / name).read_bytes(), X35 + url)
    assert index.generator == "Discuz! X3.5" and index.site == "127.0.0.1:8080"
    assert index.name == "Discuz! 测试论坛"  # the application-name meta; the titles say 论坛 and Discuz!
    category, *forums = index.forums
    assert (category.fid, category.name, category.url, category.is_category) == (1, "Discuz!", X35 + "forum.php?gid=1", True)
    assert [(f.fid, f.name, f.gid, f.parent_fid, f.is_category) for f in forums] == [
        (2, "公文写作", 1, None, False),
        (3, "职场交流", 1, None, False),
        (4, "技术杂谈", 1, None, False),
    ]
    assert [f.url for f in forums] == [X35 + "forum-2-1.html", X35 + "forum-3-1.html", X35 + "forum-4-1.html"]
    assert {f["fid"]: f["name"] for f in truth(version)["forums"]} == {f.fid: f.name for f in forums}


@pytest.mark.parametrize("name, url", [
    ("forum.php@mod=forumdisplay&fid=99.html", "forum.php?mod=forumdisplay&fid=99"),
    ("forum-99-1.html", "forum-99-1.html"),
])
def test_missing_forum_is_a_page_problem(name, url):
    body = (SAMPLE / "v1" / name).read_bytes()
    with pytest.raises(PageProblem) as raised:
        parse_forum_page(body, X35 + url)
    # The thread parser's detection decides the kind: "error" for a Discuz message box,
    # "missing" since it tells "does not exist" messages apart.
    assert raised.value.kind in ("missing", "error")
    assert "指定的版块不存在" in raised.value.message
    with pytest.raises(PageProblem) as raised:
        parse_index_page(body, X35 + url)
    assert raised.value.kind in ("missing", "error")


def test_other_pages_are_not_listings():
    with pytest.raises(PageProblem) as raised:
        parse_forum_html("<html><body><div>hello</div></body></html>", X35 + "forum-2-1.html")
    assert raised.value.kind == "no_listing"
    with pytest.raises(PageProblem) as raised:
        parse_index_html("<html><body><p>nothing</p></body></html>", X35 + "forum.php")
    assert raised.value.kind == "no_listing"
    with pytest.raises(PageProblem) as raised:
        parse_forum_page(b"  ", X35 + "forum-2-1.html")
    assert raised.value.kind == "empty"
    thread = (SAMPLE / "v1" / "thread-1-1-1.html").read_bytes()  # a thread page has no thread list
    with pytest.raises(PageProblem) as raised:
        parse_forum_page(thread, X35 + "forum-2-1.html")
    assert raised.value.kind == "no_listing"


# Other sites and templates ------------------------------------------------------------------


def test_x34_talkop_typeid_listing(fixture_bytes):
    url = "http://bbs.talkop.com/forum.php?mod=forumdisplay&fid=49&filter=typeid&typeid=145"
    page = parse_forum_page(fixture_bytes("discuz/x34-utf8-talkop-forumdisplay.html"), url)
    assert (page.fid, page.name, page.page, page.page_count, page.site) == (49, "TalkOP汉化区", 1, 1, "bbs.talkop.com")
    # 14 rows; the announcement row and the "推荐主题" links above the list are no threads.
    assert len(page.threads) == 14
    assert page.threads[0].tid == 109548 and 9027 not in [t.tid for t in page.threads]
    first = page.threads[0]
    assert first.title == "【TalkOP汉化】海贼王资料集生命卡ONE PIECE图鉴完全版汉化（201809初始套装32张+和之国2张）"
    assert (first.author, first.author_uid, first.replies, first.views) == ("鹰目", 2, 1121, 64782)
    assert (first.last_poster, first.last_post_at) == ("kiku", "2019-12-04T02:44:00+08:00")
    assert first.url == "http://bbs.talkop.com/forum.php?mod=viewthread&tid=109548"  # without extra=page…
    third = page.threads[2]
    assert (third.tid, third.author, third.author_uid, third.last_poster) == (108081, "TalkOP情报员", 937, "KEEP_OP")
    last = page.threads[-1]
    assert (last.tid, last.replies, last.last_poster, last.last_post_at) == (107596, 96, "avocado", "2019-10-16T20:58:00+08:00")
    assert not any(t.sticky or t.digest for t in page.threads)
    # The saved copy has no URL of its own: the fid comes from the page (breadcrumb, var fid).
    offline = parse_forum_page(fixture_bytes("discuz/x34-utf8-talkop-forumdisplay.html"), "file:///talkop_vivire_card_catalog.html")
    assert (offline.fid, offline.name, len(offline.threads)) == (49, "TalkOP汉化区", 14)


def test_d7x_uwants_customised_traditional_chinese(fixture_bytes):
    url = "http://www.uwants.com/forumdisplay.php?fid=169"
    page = parse_forum_page(fixture_bytes("discuz/d7x-utf8-uwants-forumdisplay-zh-hant.html"), url)
    assert (page.fid, page.name, page.page) == (169, "電台節目資源", 1)
    # "... 1766" pages, but the link (and Discuz) stop at threadmaxpages = 1000.
    assert page.page_count == 1000
    assert page.page_urls[2] == "http://www.uwants.com/forumdisplay.php?fid=169&page=2"
    assert page.page_urls[1000] == "http://www.uwants.com/forumdisplay.php?fid=169&page=1000"
    # 2 sticky + 23 normal rows; the "熱門話題" block (hott_show_own*) repeats other forums' threads.
    assert len(page.threads) == 25
    assert [t.sticky for t in page.threads] == [True, True] + [False] * 23
    rules = page.threads[0]
    assert rules.tid == 14926985 and rules.title.startswith("電台節目版 版規必看")
    assert (rules.author, rules.author_uid, rules.replies, rules.views) == ("keithhuist", 335696, 1, 288651)
    assert rules.digest and not page.threads[1].digest
    assert (rules.last_poster, rules.last_post_at) == ("keithhuist", None)  # the template leaves it empty
    newest = page.threads[2]
    assert newest.tid == 19677381 and newest.title.startswith("881 串 - 2018-04-03")
    assert (newest.author, newest.replies, newest.views, newest.last_poster) == ("shingtinchi", 0, 18, "shingtinchi")
    # span title "2018-4-3 11:06 PM" under "14 分鐘前": a 12-hour clock
    assert newest.last_post_at == "2018-04-03T23:06:00+08:00"
    assert newest.url == "http://www.uwants.com/viewthread.php?tid=19677381&tr_h=18037021165ac39c0337d9d2_39836049"
    assert 19673276 not in [t.tid for t in page.threads]  # a hot-topics row
    assert [t.last_post_at for t in page.threads[2:]] == sorted((t.last_post_at for t in page.threads[2:]), reverse=True)


def test_touch_forum_list(fixture_bytes):
    page = parse_forum_page(fixture_bytes("discuz/x35-touch-forum-2-p1.html"), X35 + "forum.php?mod=forumdisplay&fid=2")
    assert (page.fid, page.name, page.page, page.page_count) == (2, "公文写作", 1, 1)
    v2 = {t["tid"]: t for t in truth("v2")["threads"] if t["fid"] == 2}
    # 20 a page on touch: all 15 threads of the forum, newest activity first.
    assert [t.tid for t in page.threads] == [t["tid"] for t in sorted(v2.values(), key=lambda t: -t["lastpost"])]
    for row in page.threads:
        thread = v2[row.tid]
        assert (row.title, row.author, row.author_uid, row.replies) == (
            thread["subject"], thread["author"], thread["authorid"], thread["replies"]
        )
        assert row.url == f"{X35}forum.php?mod=viewthread&tid={row.tid}&mobile=2"
        # The touch list shows when a thread was started, not its last post.
        assert (row.last_post_at, row.last_poster) == (None, None)
    assert (page.threads[0].tid, page.threads[0].views) == (32, 4)


def test_touch_pinned_threads_and_announcement(fixture_bytes):
    # touch/forum/forumdisplay.htm renders pinned threads (and the announcement) as li.list_top
    html = fixture_bytes("discuz/x35-touch-forum-2-p1.html").decode("utf-8")
    first = html.index('<li class="list">')
    pinned = (
        '<li class="list_top"><a href="forum.php?mod=announcement&amp;id=1&amp;mobile=2#1">'
        '<span class="micon gonggao">公告</span>论坛规则</a></li>\n'
        '<li class="list_top">\n<a href="forum.php?mod=viewthread&amp;tid=40&amp;extra=page%3D1&amp;mobile=2">\n'
        '<span class="micon">置顶</span>\n<em >本版版规</em>\t\t\t\t\t\n</a>\n</li>\n'
    )
    html = html[:first] + pinned + html[first:].replace("<em >今天被领导改稿改哭了</em>", '<span class="micon digest">精华</span>\n<em >今天被领导改稿改哭了</em>')
    page = parse_forum_html(html, X35 + "forum.php?mod=forumdisplay&fid=2")
    assert len(page.threads) == 16
    rule = page.threads[0]
    assert (rule.tid, rule.title, rule.sticky, rule.author) == (40, "本版版规", True, None)
    assert rule.url == X35 + "forum.php?mod=viewthread&tid=40&mobile=2"
    assert not any(t.sticky for t in page.threads[1:])
    assert [t.tid for t in page.threads if t.digest] == [10]


def test_touch_index(fixture_bytes):
    index = parse_index_page(fixture_bytes("discuz/x35-touch-index.html"), X35 + "forum.php")
    assert [(f.fid, f.name, f.gid, f.is_category) for f in index.forums] == [
        (1, "Discuz!", None, True),
        (2, "公文写作", 1, False),
        (3, "职场交流", 1, False),
        (4, "技术杂谈", 1, False),
    ]
    assert index.forums[1].url == X35 + "forum.php?mod=forumdisplay&fid=2&mobile=2"


# Markup the sample has no instance of, written as the X3 templates render it -----------------


def v1_forum_2():
    return (SAMPLE / "v1" / "forum-2-1.html").read_text(encoding="utf-8")


def test_sticky_digest_and_relative_time_without_title():
    html = v1_forum_2().replace('<tbody id="normalthread_15">', '<tbody id="stickthread_15">')
    html = html.replace(  # X3.5 forumdisplay_list.htm digest mark
        '<a href="thread-10-1-1.html" onclick="atarget(this)" class="s xst">今天被领导改稿改哭了</a>',
        '<a href="thread-10-1-1.html" onclick="atarget(this)" class="s xst">今天被领导改稿改哭了</a>'
        '<span class="tbox tdigest">精华1</span>',
    )
    html = html.replace('<span title="2026-11-26 16:07">昨天&nbsp;16:07</span>', "昨天&nbsp;16:07")
    fetched = datetime(2026, 11, 27, 3, 56, tzinfo=CST)
    rows = {row.tid: row for row in parse_forum_html(html, X35 + "forum-2-1.html", fetched_at=fetched).threads}
    assert rows[15].sticky and not rows[10].sticky
    assert rows[10].digest and not rows[15].digest
    assert rows[1].last_post_at == "2026-11-26T16:07:00+08:00"
    without_fetch_time = parse_forum_html(html, X35 + "forum-2-1.html").threads
    assert next(r for r in without_fetch_time if r.tid == 1).last_post_at is None


def test_empty_forum_is_a_listing_without_threads():
    html = v1_forum_2()
    start, end = html.index('<tbody id="normalthread_15">'), html.index("</table><!-- end of table")
    empty = html[:start] + '<tbody><tr><th colspan="5"><p class="emp">本版块或指定的范围内尚无主题</p></th></tr></tbody>' + html[end:]
    page = parse_forum_html(empty, X35 + "forum-2-1.html")
    assert (page.fid, page.name, page.threads) == (2, "公文写作", [])


def test_subforums_of_a_forum_and_on_the_index():
    # forumdisplay_subforum.htm, one sub-forum (fid 5) of forum 2
    block = (
        '<div class="bm bmw fl"><div class="bm_h cl"><span class="o"><em id="subforum_2_img" class="tg_no"></em></span>'
        '<h2>子版块</h2></div><div id="subforum_2" class="bm_c"><table cellspacing="0" cellpadding="0" class="fl_tb"><tr>'
        '<td class="fl_icn"><a href="forum.php?mod=forumdisplay&fid=5" title="公文范文"><svg></svg></a></td>'
        '<td><h2><a href="forum.php?mod=forumdisplay&fid=5">公文范文</a><em class="xw0 xi1" title="今日"> (3)</em></h2>'
        '<p class="xg2">范文收集</p></td><td class="fl_i"><span class="xi2">1</span><span class="xg1"> / 2</span></td>'
        "</tr></table></div></div>"
    )
    html = v1_forum_2().replace('<div id="pgt" class="bm bw0 pgs cl">', block + '<div id="pgt" class="bm bw0 pgs cl">')
    page = parse_forum_html(html, X35 + "forum-2-1.html")
    assert [(f.fid, f.name, f.url, f.parent_fid, f.is_category) for f in page.subforums] == [
        (5, "公文范文", X35 + "forum.php?mod=forumdisplay&fid=5", 2, False)
    ]
    assert len(page.threads) == 10
    # discuz.htm lists sub-forums in their forum's row: "子版块: <a>…</a>"
    index_html = (SAMPLE / "v1" / "forum.php.html").read_text(encoding="utf-8").replace(
        '<p class="xg2">机关文稿、公文写作经验交流</p>',
        '<p class="xg2">机关文稿、公文写作经验交流</p><p>子版块: <a href="forum-5-1.html">公文范文</a></p>',
    )
    forums = {f.fid: f for f in parse_index_html(index_html, X35 + "forum.php").forums if not f.is_category}
    assert list(forums) == [2, 5, 3, 4]
    assert (forums[5].name, forums[5].parent_fid, forums[5].gid) == ("公文范文", 2, 1)
    assert forums[2].parent_fid is None and forums[3].parent_fid is None


def test_module_stays_pure():
    tree = ast.parse(Path(listing.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(name.split(".")[0] in ("scrapy", "itemadapter", "twisted") for name in imported)


# URL forms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url, ref",
    [
        ("http://127.0.0.1:8080/forum-2-1.html", ForumRef(2, 1)),
        ("http://x.cn/bbs/forum-12-3.html", ForumRef(12, 3)),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2", ForumRef(2, 1)),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2&page=4", ForumRef(2, 4)),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=49&filter=typeid&typeid=145&page=2", ForumRef(49, 2)),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2&mobile=2", ForumRef(2, 1)),
        ("http://www.uwants.com/forumdisplay.php?fid=169&page=1000", ForumRef(169, 1000)),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2&page=0", ForumRef(2, 1)),
        ("http://x.cn/f45-2", ForumRef(45, 2)),  # a site's own rewrite rule
        ("http://x.cn/bbs/f45-1.html", ForumRef(45, 1)),
        ("http://x.cn/forum-news-1.html", None),  # a forum alias names no fid
        ("http://x.cn/forum.php?gid=1", None),
        ("http://x.cn/forum.php", None),
        ("http://x.cn/thread-2-1-1.html", None),
        ("http://x.cn/forum.php?mod=viewthread&tid=2", None),
    ],
)
def test_forum_ref(url, ref):
    assert forum_ref(url) == ref


@pytest.mark.parametrize(
    "url, listed",
    [
        ("http://x.cn/thread-13-1-2.html", "http://x.cn/thread-13-1-1.html"),
        ("http://x.cn/bbs/thread-13-1-1.html", "http://x.cn/bbs/thread-13-1-1.html"),
        ("http://x.cn/forum.php?mod=viewthread&tid=32&extra=page%3D1&mobile=2", "http://x.cn/forum.php?mod=viewthread&tid=32&mobile=2"),
        ("http://x.cn/forum.php?mod=viewthread&tid=5&extra=page%3D2%26filter%3Dtypeid", "http://x.cn/forum.php?mod=viewthread&tid=5"),
        ("http://x.cn/viewthread.php?tid=9&extra=page%3D1&tr_h=ab_1", "http://x.cn/viewthread.php?tid=9&tr_h=ab_1"),
        ("http://x.cn/forum.php?mod=viewthread&tid=5", "http://x.cn/forum.php?mod=viewthread&tid=5"),
        ("http://x.cn/t13-1-4", "http://x.cn/t13-1-1"),
    ],
)
def test_listed_thread_url(url, listed):
    assert listed_thread_url(url) == listed


def test_forum_ref_unpacks():
    fid, page = forum_ref("http://x.cn/forum-7-2.html")
    assert (fid, page) == (7, 2)


@pytest.mark.parametrize(
    "url, index, gid",
    [
        ("http://127.0.0.1:8080/forum.php", True, None),
        ("http://127.0.0.1:8080/forum.php?mod=index", True, None),
        ("http://x.cn/bbs/index.php", True, None),
        ("http://x.cn/", True, None),
        ("http://x.cn", True, None),
        ("http://x.cn/bbs/", True, None),
        ("http://127.0.0.1:8080/forum.php?gid=1", True, 1),
        ("http://x.cn/index.php?gid=6", True, 6),
        ("http://127.0.0.1:8080/index.php?mobile=2", True, None),
        ("http://x.cn/forum.php?mod=forumdisplay&fid=2", False, None),
        ("http://x.cn/forum.php?mod=guide&view=new", False, None),
        ("http://x.cn/forum.php?mod=viewthread&tid=1", False, None),
        ("http://x.cn/forum-2-1.html", False, None),
        ("http://x.cn/archiver/", False, None),
        ("http://x.cn/home.php?mod=space&uid=2", False, None),
    ],
)
def test_is_index_url_and_category_gid(url, index, gid):
    assert is_index_url(url) is index
    assert category_gid(url) == gid
