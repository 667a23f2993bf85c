"""The Discuz mobile API as a source: its JSON gives the rows the HTML pages give.

Checked on the sample forum's saved API answers (sample_forum/v*/api/mobile/), against the
forum's database (TRUTH.json) and against the HTML parsers' output for the same pages.
"""

import csv
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import html as lxml_html

from scraper.content import extract_message
from scraper.thread import parse_thread_page
from scraper.forum_index import parse_index_page
from scraper.listing import parse_forum_page
from scraper.problems import PageProblem
from scraper.models import ForumPage, IndexPage, ThreadPage
from scraper.kinds import PageKind
from scraper.mobile_api import parse_api_forum, parse_api_index, parse_api_thread
from scraper.noise import looks_like_noise
from scraper.urls import (
    api_forum_url,
    api_index_url,
    api_module,
    api_page_url,
    api_thread_url,
    desktop_thread_url,
    site_of,
    site_root_url,
    thread_ref,
)

SAMPLE = Path(__file__).resolve().parent.parent / "sample_forum"
BASE = "http://127.0.0.1:8080/"
VERSIONS = ("v1", "v2")


def fetched(version):
    """url -> (file, status, fetch time) of every saved answer, from URLS.tsv."""
    with open(SAMPLE / version / "URLS.tsv", encoding="utf-8", newline="") as tsv:
        return {
            BASE + row["url"]: (SAMPLE / version / row["file"], int(row["status"]),
                                datetime.fromtimestamp(int(row["fetched_at_unix"]), timezone.utc))
            for row in csv.DictReader(tsv, delimiter="\t", quoting=csv.QUOTE_NONE)
        }


def truth(version):
    return json.loads((SAMPLE / version / "TRUTH.json").read_text(encoding="utf-8"))


def api_answers(version, module):
    return [
        (url, path, status)
        for url, (path, status, _) in sorted(fetched(version).items())
        if api_module(url) == module
    ]


THREADS = [
    pytest.param(version, url, path, id=f"{version}-{url.split('?')[1]}")
    for version in VERSIONS
    for url, path, status in api_answers(version, "viewthread")
    if status == 200
]
MISSING = [
    pytest.param(version, url, path, id=f"{version}-{url.split('?')[1]}")
    for version in VERSIONS
    for url, path, status in api_answers(version, "viewthread")
    if status != 200
]
FORUMS = [
    pytest.param(version, url, path, id=f"{version}-{url.split('?')[1]}")
    for version in VERSIONS
    for url, path, _ in api_answers(version, "forumdisplay")
]


def html_thread(version, tid, page):
    """The HTML parser's reading of the same thread page (the rewrite form, as the crawl fetches it)."""
    url = f"{BASE}thread-{tid}-{page}-1.html"
    path, _, when = fetched(version)[url]
    return parse_thread_page(path.read_bytes(), url, fetched_at=when)


def truth_posts(version):
    return {post["pid"]: post for thread in truth(version)["threads"] for post in thread["posts"]}


def test_every_saved_answer_is_covered():
    assert len(THREADS) == 10 + 22  # thread pages: v1 10, v2 22
    assert {(v, u.split("?")[1]) for v, u, _ in (p.values for p in MISSING)} >= {
        ("v1", "version=4&module=viewthread&tid=7&page=1"),
        ("v2", "version=4&module=viewthread&tid=21&page=1"),
    }
    assert len(FORUMS) == 2 * 4


# Threads ------------------------------------------------------------------------------------


@pytest.mark.parametrize("version, url, path", THREADS)
def test_thread_matches_the_database(version, url, path):
    thread = parse_api_thread(path.read_bytes(), url)
    known = {t["tid"]: t for t in truth(version)["threads"]}[thread.tid]
    posts = truth_posts(version)
    ref = thread_ref(url)
    assert (thread.tid, thread.page, thread.fid, thread.title) == (ref.tid, ref.page, known["fid"], known["subject"])
    assert thread.page_count == known["pages_guest"]
    assert thread.url == url  # what was fetched
    assert thread.site == site_of(f"{BASE}forum.php?mod=viewthread&tid={thread.tid}") == "127.0.0.1:8080"
    assert thread.generator is None and thread.forum_name is None
    if thread.page == 1:
        assert thread.replies == known["replies"]
        assert known["views_before_snapshot"] <= thread.views <= known["views_after_snapshot"]
        assert thread.article is not None and thread.article.pid == known["posts"][0]["pid"]
    else:
        assert thread.views is None and thread.replies is None and thread.article is None
    for post in thread.posts:
        row = posts[post.pid]
        assert row["page"] == thread.page
        assert (post.floor, post.author, post.author_uid, post.posted_at) == (
            row["floor_displayed"], row["author"], row["authorid"], row["dateline_iso"]
        )
        assert post.masked == (row["guest_sees_masked"] == "banned_author")
        assert post.blocked == (row["guest_sees_masked"] == "post_blocked")
        assert post.hidden == row["has_hide"]
        assert bool(post.quote_pid or post.quote_author) == row["has_quote"]  # [quote] without a link: no pid
    assert thread.page_urls == {
        n: api_thread_url(BASE, thread.tid, n) for n in range(1, thread.page_count + 1) if n != thread.page
    }


@pytest.mark.parametrize("version, url, path", THREADS)
def test_thread_matches_the_html_page(version, url, path):
    """Same rows as the HTML parser gives for the same page, but for what the API cannot carry."""
    thread = parse_api_thread(path.read_bytes(), url)
    page = html_thread(version, thread.tid, thread.page)
    known = truth_posts(version)
    assert (thread.tid, thread.page, thread.page_count, thread.title, thread.fid, thread.replies, thread.site) == (
        page.tid, page.page, page.page_count, page.title, page.fid, page.replies, page.site
    )
    assert [p.pid for p in thread.posts] == [p.pid for p in page.posts]
    for api, desktop in zip(thread.posts, page.posts):
        same = ("floor", "author", "author_uid", "posted_at", "quote_pid", "quote_author", "images", "flags")
        assert [getattr(api, k) for k in same] == [getattr(desktop, k) for k in same], api.pid
        if known[api.pid]["edited"]:
            # v4 removes the edit note ("本帖最后由 X 于 T 编辑") from the message: nobody to name.
            assert desktop.edited_by and api.edited_by is None and api.edited_at is None
        else:
            assert (api.edited_by, api.edited_at) == (desktop.edited_by, desktop.edited_at) == (None, None)
        assert api.content_text == comparable(desktop, known[api.pid]), api.pid
        if not (known[api.pid]["has_code"] or known[api.pid]["has_hide"]):
            assert api.content_text == desktop.content_text, api.pid


def comparable(desktop, row):
    """The HTML page's text as the API can give it: v4 drops [code] blocks from its messages,
    and its hidden-content notice is the mobile one (no comma, no reply link)."""
    text = desktop.content_text
    if row["has_code"]:
        root = lxml_html.fragment_fromstring(desktop.content_html, create_parent="div")
        for block in root.xpath("//div[contains(@class, 'blockcode')]"):
            block.drop_tree()
        text = extract_message(root, BASE).text
    if row["has_hide"]:
        text = text.replace("游客，如果您要查看本帖隐藏内容请回复", "游客如果您要查看本帖隐藏内容请回复")
    return text


def test_most_messages_are_the_same_html_too():
    """content_html: the API drops [size], [i] and [code] from messages; quotes are restored."""
    same = total = 0
    for version, url, path in (p.values for p in THREADS):
        thread = parse_api_thread(path.read_bytes(), url)
        page = html_thread(version, thread.tid, thread.page)
        for api, desktop in zip(thread.posts, page.posts):
            total += 1
            same += api.content_html == desktop.content_html
    assert total == 232 and same >= 218


@pytest.mark.parametrize("version, url, path", THREADS)
def test_no_noise_reaches_the_archive(version, url, path):
    body = path.read_text(encoding="utf-8")
    thread = parse_api_thread(body, url)
    for post in thread.posts:
        assert not looks_like_noise(post.content_text), (post.pid, post.content_text)
        assert "jammer" not in post.content_html and "display:none" not in post.content_html.replace(" ", "")


def test_noise_is_in_the_answers():
    """The test above means something: the answers of the noisy forums carry the noise."""
    body = (SAMPLE / "v1/api/mobile/index.php@version=4&module=viewthread&tid=1&page=1.json").read_text()
    assert 'class=\\"jammer\\"' in body and "display:none" in body


def test_quotes_banned_blocked_and_hidden_posts():
    def post(version, tid, page, pid):
        url = api_thread_url(BASE, tid, page)
        thread = parse_api_thread(fetched(version)[url][0].read_bytes(), url)
        return next(p for p in thread.posts if p.pid == pid)

    quoting = post("v1", 1, 1, 4)
    assert (quoting.quote_pid, quoting.quote_author) == (1, "见习秘书")
    assert quoting.content_text.startswith("> 见习秘书 发表于 2013-2-18 22:17\n> 如何当好办公室主任")
    assert quoting.content_text.endswith("\n\n楼主总结得太好了，“主次分明”四个字就是办公室工作的精髓。")
    assert 'href="http://127.0.0.1:8080/forum.php?mod=redirect&amp;goto=findpost&amp;pid=1&amp;ptid=1"' in quoting.content_html
    banned = post("v1", 14, 1, 149)
    assert (banned.flags, banned.content_text, banned.content_html) == (["masked"], "提示: 作者被禁止或删除 内容自动屏蔽", "")
    blocked = post("v1", 20, 1, 262)
    assert (blocked.flags, blocked.content_text) == (["blocked"], "提示: 该帖被管理员或版主屏蔽")
    hidden = post("v1", 1, 2, 11)
    assert hidden.flags == ["hidden"] and "replyreload" not in hidden.content_text
    first = post("v1", 1, 1, 1)
    assert '行靠合力"。' in first.content_text  # the API escapes entities twice: "&amp;quot;"


# Errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version, url, path", MISSING)
def test_a_deleted_thread_is_missing(version, url, path):
    with pytest.raises(PageProblem) as raised:
        parse_api_thread(path.read_bytes(), url)
    assert raised.value.kind == "missing"
    assert "thread_nonexistence" in raised.value.message


THREAD_URL = api_thread_url(BASE, 1)


@pytest.mark.parametrize(
    "body, kind",
    [
        (b'{"error":"mobile_is_closed"}', PageKind.API_CLOSED),
        (b'{"Version":"4","Variables":{"postlist":[]},"Message":{"messageval":"to_login","messagestr":"\\u8bf7\\u5148\\u767b\\u5f55"}}', "login"),
        (b'{"Version":"4","Variables":{},"Message":{"messageval":"forum_nopermission","messagestr":"x"}}', "login"),
        (b'{"Version":"4","Variables":{},"Message":{"messageval":"forum_nonexistence","messagestr":""}}', "missing"),
        (b'{"Version":"4","Variables":{},"Message":{"messageval":"board_closed","messagestr":"closed for a while"}}', "closed"),
        (b'{"Version":"4","Variables":{},"Message":{"messageval":"submit_seccode_invalid","messagestr":"?"}}', "error"),
        (b'{"Version":"4","Variables":{"thread":{},"postlist":[]}}', "no_posts"),
        (b'{"Version":"4","Variables":', "broken"),
        (b"[1, 2]", "broken"),
        (b'{"Version":"4"}', "broken"),
        (b"\xff\xfe{", "broken"),
        (b"  ", "empty"),
        ("<html><body><div id='messagetext'><p>抱歉，指定的主题不存在或已被删除或正在被审核</p></div></body></html>".encode(), "missing"),
        (b"<html><body><p>Bad Gateway</p></body></html>", "broken"),
    ],
)
def test_error_answers(body, kind):
    with pytest.raises(PageProblem) as raised:
        parse_api_thread(body, THREAD_URL)
    assert raised.value.kind == kind
    assert raised.value.message  # what the crawl records in pages.error


def test_php_warnings_before_the_json_are_skipped():
    body = (SAMPLE / "v1/api/mobile/index.php@version=4&module=viewthread&tid=14&page=1.json").read_bytes()
    thread = parse_api_thread(b"<br />\n<b>Deprecated</b>: something in x.php<br />\n" + body, api_thread_url(BASE, 14))
    assert [p.pid for p in thread.posts] == [149, 150, 151]


# Synthetic answers: what the samples do not show ----------------------------------------------


def answer(posts, thread=None, **variables):
    thread = {"tid": "5", "fid": "2", "subject": "S &amp; T", "replies": "25", "views": "9"} | (thread or {})
    return json.dumps({"Version": "4", "Charset": "GBK", "Variables": {"thread": thread, "postlist": posts, "ppp": "10"} | variables})


def a_post(pid=100, **fields):
    return {
        "pid": str(pid), "tid": "5", "first": "0", "author": "甲", "authorid": "3", "username": "甲",
        "groupid": "10", "memberstatus": "0", "status": "0", "dateline": "2024-1-2 03:04:05",
        "dbdateline": "1704135845", "number": "12", "position": "12", "message": "你好",
    } | fields


def test_images_and_attachments_become_absolute():
    attachments = {
        "7": {"aid": "7", "url": "data/attachment/forum/", "attachment": "202401/02/a.jpg", "isimage": "1",
              "aidencode": "N3xhYmN8MTcwNA%3D%3D", "thumb": "0"},
        "8": {"aid": "8", "url": "https://cdn.example.com/forum/", "attachment": "202401/02/b.png", "isimage": "1",
              "aidencode": "OHxhYmN8MTcwNA%3D%3D", "thumb": "1"},
        "9": {"aid": "9", "url": "data/attachment/forum/", "attachment": "202401/02/c.zip", "isimage": "0",
              "aidencode": "OXxhYmN8MTcwNA%3D%3D"},
    }
    message = (
        '看图<br /><img src="https://bbs.example.com/bbs/data/attachment/forum/202401/02/z.jpg.thumb.jpg" '
        'file="https://bbs.example.com/bbs/data/attachment/forum/202401/02/z.jpg" attach="100" />'
        '<img src="static/image/smiley/default/smile.gif" smilieid="1" /><a href="home.php?mod=space&amp;amp;uid=3">空间</a>'
    )
    url = "https://bbs.example.com/bbs/api/mobile/index.php?version=4&module=viewthread&tid=5&page=2"
    post = parse_api_thread(answer([a_post(message=message, attachments=attachments, imagelist=["7", "8"])]), url).posts[0]
    assert post.images == [
        "https://bbs.example.com/bbs/data/attachment/forum/202401/02/z.jpg",
        "https://bbs.example.com/bbs/data/attachment/forum/202401/02/a.jpg",
        "https://cdn.example.com/forum/202401/02/b.png",
    ]
    assert post.attachments == [
        "https://bbs.example.com/bbs/forum.php?mod=attachment&aid=N3xhYmN8MTcwNA%3D%3D&nothumb=yes",
        "https://bbs.example.com/bbs/forum.php?mod=attachment&aid=OHxhYmN8MTcwNA%3D%3D&nothumb=yes",
        "https://bbs.example.com/bbs/forum.php?mod=attachment&aid=OXxhYmN8MTcwNA%3D%3D",
    ]
    assert 'href="https://bbs.example.com/bbs/home.php?mod=space&amp;uid=3"' in post.content_html


def test_a_thread_under_a_path():
    url = "https://bbs.example.com/bbs/api/mobile/index.php?version=4&module=viewthread&tid=5&page=2"
    thread = parse_api_thread(answer([a_post()]), url)
    assert thread.site == "bbs.example.com/bbs" == site_of("https://bbs.example.com/bbs/forum.php?mod=viewthread&tid=5")
    assert (thread.title, thread.page, thread.page_count, thread.views, thread.replies) == ("S & T", 2, 3, None, None)
    assert thread.page_urls == {
        1: "https://bbs.example.com/bbs/api/mobile/index.php?version=4&module=viewthread&tid=5&page=1",
        3: "https://bbs.example.com/bbs/api/mobile/index.php?version=4&module=viewthread&tid=5&page=3",
    }


def test_anonymous_posts_keep_what_the_api_says():
    post = parse_api_thread(answer([a_post(author="匿名", authorid="0", username="匿名", anonymous="1", groupid="0")]), THREAD_URL).posts[0]
    assert (post.author, post.author_uid, post.masked) == ("匿名", None, False)


def test_times_in_the_forums_offset():
    one = [a_post()]  # dateline 2024-1-2 03:04:05 beside 1704135845 (2024-01-01T19:04:05Z): +08:00
    assert parse_api_thread(answer(one), THREAD_URL).posts[0].posted_at == "2024-01-02T03:04:05+08:00"
    assert parse_api_thread(answer(one), THREAD_URL, utc_offset="+09:00").posts[0].posted_at == "2024-01-02T04:04:05+09:00"
    tokyo = [a_post(dateline="2024-1-2 04:04:05")]  # the forum prints its own offset's time
    assert parse_api_thread(answer(tokyo), THREAD_URL).posts[0].posted_at == "2024-01-02T04:04:05+09:00"
    relative = [a_post(dateline="3&nbsp;天前")]  # nothing to read the offset from: Discuz's default
    assert parse_api_thread(answer(relative), THREAD_URL).posts[0].posted_at == "2024-01-02T03:04:05+08:00"


def test_floor_falls_back_on_position_and_pages_on_posts_per_page():
    posts = [a_post(number="", position="21")]
    thread = parse_api_thread(answer(posts, ppp=None), api_thread_url(BASE, 5, 3), posts_per_page=20)
    assert (thread.posts[0].floor, thread.page, thread.page_count) == (21, 2, 2)  # page 3 of 2: Discuz serves 2


def test_notices_only_when_the_post_has_the_reason():
    """A reply that only talks about a blocked post is no blocked post."""
    talk = parse_api_thread(answer([a_post(message="这帖被管理员或版主屏蔽了吗？")]), THREAD_URL).posts[0]
    assert talk.flags == [] and talk.content_html
    only_author = parse_api_thread(answer([a_post(message="此帖仅作者可见")]), THREAD_URL).posts[0]
    assert (only_author.flags, only_author.content_html) == (["hidden"], "")


def test_older_api_versions_keep_the_edit_note():
    message = '<i class="pstatus"> 本帖最后由 乙 于 2024-1-3 10:00 编辑 </i><br />\r\n<br />\r\n正文'
    post = parse_api_thread(answer([a_post(message=message)]), THREAD_URL).posts[0]
    assert (post.edited_by, post.edited_at, post.content_text) == ("乙", "2024-01-03T10:00:00+08:00", "正文")


# Forum lists and the index ---------------------------------------------------------------------


@pytest.mark.parametrize("version, url, path", FORUMS)
def test_forum_matches_the_database_and_the_html_list(version, url, path):
    forum = parse_api_forum(path.read_bytes(), url)
    known = {t["tid"]: t for t in truth(version)["threads"]}
    names = {f["fid"]: f["name"] for f in truth(version)["forums"]}
    assert (forum.url, forum.site, forum.name) == (url, "127.0.0.1:8080", names[forum.fid])
    assert (forum.page, forum.page_count, forum.page_urls, forum.subforums) == (1, 1, {}, [])  # tpp 20: one page
    assert {row.tid for row in forum.threads} == {t for t, row in known.items() if row["fid"] == forum.fid}
    listed = {}
    for page in (1, 2):
        page_url = f"{BASE}forum-{forum.fid}-{page}.html"
        if page_url in fetched(version):
            saved, _, when = fetched(version)[page_url]
            listed |= {row.tid: row for row in parse_forum_page(saved.read_bytes(), page_url, fetched_at=when).threads}
    for row in forum.threads:
        thread = known[row.tid]
        assert (row.title, row.replies, row.last_poster, row.author, row.author_uid) == (
            thread["subject"], thread["replies"], thread["lastposter"], thread["author"], thread["authorid"]
        )
        assert row.last_post_at == re.sub(r":\d\d(?=\+)", ":00", thread["lastpost_iso"])  # to the minute
        assert thread["views_before_snapshot"] <= row.views <= thread["views_after_snapshot"]
        assert row.url == f"{BASE}forum.php?mod=viewthread&tid={row.tid}"
        assert site_of(row.url) == forum.site
        html_row = listed[row.tid]
        same = ("title", "author", "author_uid", "replies", "last_post_at", "last_poster", "sticky", "digest")
        assert [getattr(row, k) for k in same] == [getattr(html_row, k) for k in same]


def test_forum_pages_and_sub_forums():
    body = json.dumps({"Version": "4", "Variables": {
        "forum": {"fid": "7", "name": "A &amp; B", "threads": "45", "threadcount": "45"},
        "forum_threadlist": [{"tid": "9", "subject": "t", "author": "", "authorid": "0", "replies": "0", "views": "1",
                              "displayorder": "1", "digest": "2", "dblastpost": "1704135845", "lastpost": "2024-1-2 03:04",
                              "lastposter": ""}],
        "sublist": [{"fid": "8", "name": "子版"}], "tpp": "20", "page": "2"}})
    forum = parse_api_forum(body, api_forum_url("https://x.cn/bbs/", 7, 2) + "&tpp=20")
    assert (forum.fid, forum.name, forum.page, forum.page_count, forum.site) == (7, "A & B", 2, 3, "x.cn/bbs")
    assert forum.page_urls == {
        1: "https://x.cn/bbs/api/mobile/index.php?version=4&module=forumdisplay&fid=7&tpp=20",
        3: "https://x.cn/bbs/api/mobile/index.php?version=4&module=forumdisplay&fid=7&page=3&tpp=20",
    }
    row = forum.threads[0]
    assert (row.sticky, row.digest, row.author, row.author_uid, row.last_poster) == (True, True, None, None, None)
    assert row.last_post_at == "2024-01-02T03:04:00+08:00"
    assert [(s.fid, s.name, s.url, s.parent_fid) for s in forum.subforums] == [
        (8, "子版", "https://x.cn/bbs/forum.php?mod=forumdisplay&fid=8", 7)
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_index_matches_the_database_and_the_html_index(version):
    url = api_index_url(BASE)
    index = parse_api_index(fetched(version)[url][0].read_bytes(), url)
    assert (index.url, index.site, index.generator) == (url, "127.0.0.1:8080", None)
    forums = [link for link in index.forums if not link.is_category]
    assert [(f.fid, f.name, f.gid, f.parent_fid) for f in forums] == [
        (f["fid"], f["name"], 1, None) for f in truth(version)["forums"]
    ]
    assert [f.url for f in forums] == [f"{BASE}forum.php?mod=forumdisplay&fid={fid}" for fid in (2, 3, 4)]
    page = parse_index_page(fetched(version)[BASE + "forum.php"][0].read_bytes(), BASE + "forum.php")
    keys = lambda links: [(f.fid, f.name, f.gid, f.parent_fid, f.is_category) for f in links]  # noqa: E731
    assert keys(index.forums) == keys(page.forums)
    assert index.forums[0].url == page.forums[0].url == f"{BASE}forum.php?gid=1"


def test_index_sub_forums_and_forums_without_a_category():
    body = json.dumps({"Version": "4", "Variables": {
        "catlist": [{"fid": "1", "name": "分区", "forums": ["2"]}],
        "forumlist": [{"fid": "2", "name": "甲", "sublist": [{"fid": "5", "name": "乙"}]}, {"fid": "3", "name": "丙"}]}})
    index = parse_api_index(body, "http://x.cn/api/mobile/index.php?version=4&module=forumindex")
    assert [(f.fid, f.name, f.gid, f.parent_fid, f.is_category) for f in index.forums] == [
        (1, "分区", None, None, True), (2, "甲", 1, None, False), (5, "乙", 1, 2, False), (3, "丙", None, None, False)
    ]
    with pytest.raises(PageProblem) as raised:
        parse_api_index(b'{"error":"mobile_is_closed"}', "http://x.cn/api/mobile/index.php?version=4&module=forumindex")
    assert raised.value.kind == PageKind.API_CLOSED


# URLs -----------------------------------------------------------------------------------------


def test_api_urls():
    for any_url in ("https://x.cn/bbs/", "https://x.cn/bbs/forum.php?mod=viewthread&tid=3", "https://x.cn/bbs/thread-3-1-1.html"):
        assert site_root_url(any_url) == "https://x.cn/bbs/"
        assert api_thread_url(any_url, 3, 2) == "https://x.cn/bbs/api/mobile/index.php?version=4&module=viewthread&tid=3&page=2"
    assert api_thread_url(BASE, 1) == BASE + "api/mobile/index.php?version=4&module=viewthread&tid=1&page=1"
    assert api_forum_url(BASE, 2) == BASE + "api/mobile/index.php?version=4&module=forumdisplay&fid=2"
    assert api_forum_url(BASE, 2, 2) == BASE + "api/mobile/index.php?version=4&module=forumdisplay&fid=2&page=2"
    assert api_index_url("http://127.0.0.1:8080") == BASE + "api/mobile/index.php?version=4&module=forumindex"
    # Each is a URL the sample forum saved, so the crawl can fetch what they build.
    saved = fetched("v1")
    assert {api_thread_url(BASE, 1), api_forum_url(BASE, 2), api_forum_url(BASE, 2, 2), api_index_url(BASE)} <= set(saved)
    # The API's path never becomes part of the site.
    api = "https://x.cn/bbs/api/mobile/index.php?version=4&module=viewthread&tid=3&page=2"
    assert site_of(api) == site_of("https://x.cn/bbs/forum.php") == "x.cn/bbs"
    assert desktop_thread_url(api) == "https://x.cn/bbs/forum.php?mod=viewthread&tid=3&page=2"
    assert (api_module(api), api_module("https://x.cn/bbs/forum.php?module=viewthread")) == ("viewthread", None)
    assert api_page_url(api + "&ppp=20", 1) == api.replace("page=2", "page=1") + "&ppp=20"


def test_a_long_thread_names_a_window_of_pages():
    url = api_thread_url(BASE, 5, 500)
    thread = parse_api_thread(answer([a_post()], thread={"replies": "99999"}), url)
    assert thread.page_count == 10000
    assert sorted(thread.page_urls) == [1, *range(400, 500), *range(501, 601), 10000]
    assert thread.page_urls[501] == api_thread_url(BASE, 5, 501)


# Damaged answers ------------------------------------------------------------------------------

ANSWERS = [path for version in VERSIONS for path in sorted((SAMPLE / version / "api/mobile").glob("*.json"))]
JUNK = [None, True, 0, -1, 10**30, "", "abc", "-5", "99999999999999999999", [], {}, [1, "x"], {"a": None}, 1.5,
        "2013-13-45 25:61:00", "<b>x", "&amp;amp;", "[" * 50]


def damage(value, rnd, rate):
    """Every value, at ``rate``, swapped for one of the wrong type or out of range."""
    if isinstance(value, dict):
        return {k: rnd.choice(JUNK) if rnd.random() < rate else damage(v, rnd, rate) for k, v in value.items()}
    if isinstance(value, list):
        return [rnd.choice(JUNK) if rnd.random() < rate else damage(v, rnd, rate) for v in value]
    return value


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 50)), deadline=None, database=None)
@given(st.randoms(use_true_random=False), st.sampled_from(ANSWERS), st.sampled_from([0.02, 0.1, 0.4]), st.booleans())
def test_damaged_answers_give_the_page_or_say_what_it_is(rnd, path, rate, cut):
    """A parser returns its dataclass or raises PageProblem; any other exception is a bug."""
    body = json.dumps(damage(json.loads(path.read_text(encoding="utf-8")), rnd, rate))
    if cut:
        body = body[: rnd.randrange(len(body))]
    url = BASE + "api/mobile/index.php?" + path.name.split("@", 1)[1].removesuffix(".json")
    parse, model = {
        "viewthread": (parse_api_thread, ThreadPage),
        "forumdisplay": (parse_api_forum, ForumPage),
        "forumindex": (parse_api_index, IndexPage),
    }[api_module(url)]
    try:
        assert isinstance(parse(body.encode(), url), model)
    except PageProblem as problem:
        assert problem.kind and problem.message
