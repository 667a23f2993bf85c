"""The thread extras, portal and profile parsers against the discuz-x-features snapshot's
database truth (tests/fixtures/discuz-x-features/README.md): every 点评, rating, poll option,
tag, type, attachment, portal article and comment a guest can see, with the right values,
nothing twice; and the v2 snapshot's changes (CHANGES.json)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scraper.api_extras import parse_api_thread_extras
from scraper.content import fragment_root, html_to_text
from scraper.portal import join_article_pages, parse_article_page, parse_comment_list, parse_portal_list
from scraper.post_extras import parse_commentmore, parse_viewratings
from scraper.problems import PageProblem
from scraper.thread import parse_thread_page
from scraper.attachments import decode_aid, size_in_bytes
from scraper.thread_extras import parse_thread_extras
from scraper.user_pages import parse_profile

HERE = Path(__file__).parent / "fixtures" / "discuz-x-features"
BASE = "http://127.0.0.1:8082/"


def file_of(version: str, url: str) -> Path:
    """The snapshot's file for a URL (its naming: the query after '@')."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/") + (f"@{parts.query}" if parts.query else "")
    return HERE / version / (name if name.endswith(".html") else name + ".html")


def read(version: str, url: str) -> str:
    return file_of(version, url).read_text(encoding="utf-8")


def truth(version: str = "v1") -> dict:
    return json.loads((HERE / version / "TRUTH.json").read_text(encoding="utf-8"))


def crawl(version: str):
    """What the spider would gather: every thread page's extras, the commentmore pages after
    the page's 点评, the viewratings list for posts that show only their latest raters."""
    pages, comments, ratings = [], {}, []
    for path in sorted((HERE / version).glob("thread-*-*-1.html")):
        try:
            extras = parse_thread_extras(path.read_bytes(), BASE + path.name)
        except PageProblem as problem:
            assert problem.kind == "missing", path.name  # tid 19, deleted
            continue
        pages.append(extras)
        for comment in extras.comments:
            comments.setdefault(comment.key, comment)
        for pid, url in extras.comments_more.items():
            while url:
                page = parse_commentmore(read(version, url), url)
                for comment in page.comments:
                    comments.setdefault(comment.key, comment)
                url = page.next_url
        for rating in extras.ratings:
            if rating.pid not in extras.ratings_more:
                ratings.append(rating)
        for pid, url in extras.ratings_more.items():
            ratings.extend(parse_viewratings(read(version, url), url).ratings)
    return pages, list(comments.values()), ratings


@pytest.fixture(scope="module")
def v1():
    return crawl("v1")


def test_every_comment_once_with_its_author_time_and_text(v1):
    _, comments, _ = v1
    expected = Counter(
        (c["tid"], c["pid"], c["authorid"], c["author"], c["dateline_iso"][:16], c["comment"]) for c in truth()["comments"]
    )
    found = Counter((c.tid, c.pid, c.author_uid, c.author, c.posted_at[:16], c.content_text) for c in comments)
    assert found == expected
    assert len(comments) == 30 and all(c.posted_at.endswith("+08:00") for c in comments)


def test_a_post_with_more_comments_than_shown_asks_commentmore_then_pages_on():
    page = parse_thread_extras(file_of("v1", BASE + "thread-6-1-1.html").read_bytes(), BASE + "thread-6-1-1.html")
    assert page.comments_more == {
        57: BASE + "forum.php?mod=misc&action=commentmore&tid=6&pid=57&page=2&inajax=1&ajaxtarget=comment_57"
    }
    assert [c.pid for c in page.comments].count(57) == 5
    last = BASE + "forum.php?mod=misc&action=commentmore&tid=6&pid=57&page=3&inajax=1&ajaxtarget=comment_57"
    third = parse_commentmore(read("v1", last), last)
    assert (third.page, third.page_count, third.next_url, len(third.comments)) == (3, 3, None, 2)


def test_every_rating_once_with_credit_score_reason_and_time(v1):
    _, _, ratings = v1
    expected = Counter(
        (r["tid"], r["pid"], r["uid"], r["username"], r["credit_title"], r["score"], r["reason"]) for r in truth()["ratings"]
    )
    found = Counter((r.tid, r.pid, r.rater_uid, r.rater, r.credit, r.score, r.reason) for r in ratings)
    assert found == expected
    times = {(r["pid"], r["uid"], r["credit_title"]): r["dateline_iso"][:16] for r in truth()["ratings"]}
    for rating in ratings:
        if rating.rated_at:  # from the viewratings list
            assert rating.rated_at[:16] == times[(rating.pid, rating.rater_uid, rating.credit)]


def test_the_thread_page_shows_the_latest_raters_and_points_to_the_full_list(v1):
    pages, _, _ = v1
    more = {pid: url for page in pages for pid, url in page.ratings_more.items()}
    assert more == {1: BASE + "forum.php?mod=misc&action=viewratings&tid=1&pid=1"}
    ajax = BASE + ("forum.php?mod=misc&action=viewratings&tid=1&pid=1&infloat=yes&handlekey=viewratings"
                   "&inajax=1&ajaxtarget=fwin_content_viewratings")
    assert parse_viewratings(read("v1", ajax), ajax).ratings == parse_viewratings(read("v1", more[1]), more[1]).ratings


def test_polls_as_a_guest_sees_them(v1):
    pages, _, _ = v1
    polls = {page.tid: page.poll for page in pages if page.poll}
    assert set(polls) == {p["tid"] for p in truth()["polls"]}
    for expected in truth()["polls"]:
        poll = polls[expected["tid"]]
        assert (poll.multiple, poll.max_choices, poll.voters, poll.results_visible, poll.expires_at) == (
            bool(expected["multiple"]), expected["maxchoices"], expected["voters"], True, None
        )
        assert [(o.option_no, o.text, o.votes) for o in poll.options] == [
            (n, o["polloption"], o["votes"]) for n, o in enumerate(expected["options"], 1)
        ]


def test_tags_types_and_special_of_every_thread(v1):
    pages, _, _ = v1
    first_pages = {page.tid: page for page in pages if page.page == 1}
    threads = truth()["threads"]
    assert set(first_pages) == {t["tid"] for t in threads}
    for thread in threads:
        page = first_pages[thread["tid"]]
        assert sorted(page.tags) == sorted(tag["name"] for tag in thread["tags"]), thread["tid"]
        assert (page.type_id, page.type_name) == ((thread["typeid"] or None), thread["type_name"])
        assert page.special == {0: None, 1: "poll"}[thread["special"]]


def test_every_attachment_once_keyed_on_its_aid(v1):
    pages, _, _ = v1
    attachments = [a for page in pages for a in page.attachments]
    assert sorted(a.aid for a in attachments) == sorted(a["aid"] for a in truth()["attachments"])
    for expected in truth()["attachments"]:
        found = next(a for a in attachments if a.aid == expected["aid"])
        assert (found.tid, found.pid, found.filename, found.downloads, found.is_image) == (
            expected["tid"], expected["pid"], expected["filename"], expected["downloads"], bool(expected["isimage"])
        )
        # "23.87 KB": as exact as the page shows (two decimals of the unit)
        unit = 1 if found.size_shown.endswith("Bytes") else 1024
        assert abs(found.size - expected["filesize"]) <= 0.005 * unit + 0.5
        assert found.price == (expected["price"] or None)
        if expected["urls_seen"]:
            assert found.url.removeprefix(BASE) in [u["url"] for u in expected["urls_seen"]]
            assert decode_aid(found.url) == expected["aid"] and found.denied is None
        else:  # the paid one: no link for a guest, the price and a 购买 link instead
            assert (found.url, found.price_credit, found.denied) == (None, "金钱", "售价: 5 金钱 购买")
        if expected["image_url_seen"]:
            assert found.image_url == BASE + expected["image_url_seen"]
        assert found.uploaded_at == expected["dateline_iso"]


def test_aidencode_and_sizes():
    assert decode_aid("forum.php?mod=attachment&aid=MTB8OTM3MTVkMTN8MTc5NjE3NDk3NnwwfDEw") == 10
    assert decode_aid("forum.php?mod=attachment&aid=NXw3NjlkNmI0OXwxNzk2MTc0OTc1fDB8NQ%3D%3D") == 5
    assert decode_aid("attachment.php?aid=42") == 42
    assert decode_aid("forum.php?mod=attachment&aid=bm90IGFuIGFpZA") is None
    assert (size_in_bytes("497 Bytes"), size_in_bytes("7.73 KB"), size_in_bytes("1.5 MB")) == (497, 7916, 1572864)


def test_portal_articles_and_comments():
    pages = [parse_article_page(file_of("v1", BASE + name).read_bytes(), BASE + name)
             for name in ("article-1-1.html", "article-1-2.html", "article-2-1.html")]
    dynamic = BASE + "portal.php?mod=view&aid=1&page=2"
    assert parse_article_page(read("v1", dynamic), dynamic).content_text == pages[1].content_text
    articles = {1: join_article_pages(pages[:2]), 2: join_article_pages(pages[2:])}
    categories = {1: "园艺专栏", 2: "站务公告"}
    for expected in truth()["articles"]:
        article = articles[expected["aid"]]
        assert (article.title, article.author, article.author_uid, article.publisher, article.category) == (
            expected["title"], expected["author"], expected["uid"], expected["username"], categories[expected["catid"]]
        )
        assert article.posted_at == expected["dateline_iso"][:16] + ":00+08:00"
        assert article.summary == expected["summary"]
        assert article.page_count == expected["contents"] and article.comments == expected["commentnum"]
        assert article.content_text == "\n\n".join(
            html_to_text(fragment_root(page["content"])) for page in expected["pages"]
        )
        listed = parse_comment_list(read("v1", article_comments := BASE + f"portal.php?mod=comment&id={expected['aid']}&idtype=aid"),
                                    article_comments).comments
        assert sorted((c.cid, c.author, c.author_uid, c.posted_at[:16], c.content_text) for c in listed) == sorted(
            (c["cid"], c["username"], c["uid"], c["dateline_iso"][:16], c["message"]) for c in expected["comments"]
        )
    assert [c.cid for c in pages[0].comments] == [4, 3, 2, 1]


def test_portal_lists_give_articles_and_categories():
    listing = parse_portal_list(read("v1", BASE + "portal.php?mod=list&catid=1"), BASE + "portal.php?mod=list&catid=1")
    assert (listing.catid, listing.name, listing.page_count) == (1, "园艺专栏", 1)
    assert listing.article_urls == {1: BASE + "article-1-1.html"}
    assert set(listing.category_urls) == {1, 2}
    # This portal's index is an empty DIY page: the categories are the way in.
    index = parse_portal_list(read("v1", BASE + "portal.php"), BASE + "portal.php")
    assert (index.article_urls, index.category_urls) == ({}, {})


@pytest.mark.parametrize("name", ["home.php?mod=space&uid=3&do=profile", "space-uid-3.html"])
def test_a_profile_guests_may_not_see_is_a_login_problem(name):
    with pytest.raises(PageProblem) as problem:
        parse_profile(read("v1", BASE + name), BASE + name)
    assert (problem.value.kind, problem.value.message) == ("login", "抱歉，您需要登录后才能查看")


def test_a_visible_profile_by_its_labels():
    # Shaped as Discuz X3's home/space_profile.htm; the snapshot has no profile a guest may see.
    page = """<html><body><div id="ct"><div class="h"><h2 class="mbn">多肉小白 <span class="xw0">(UID: 3)</span></h2></div>
    <ul class="cl bbda pbm mbm"><li><a href="home.php?mod=space&uid=3&do=thread&view=me&type=reply">回帖数 16</a>
    <span class="pipe">|</span><a href="home.php?mod=space&uid=3&do=thread&view=me&type=thread">主题数 2</a></li></ul>
    <ul><li><em>好友</em>3</li><li><em class="xg1">用户组&nbsp;&nbsp;</em><span><a href="home.php?mod=spacecp&ac=usergroup&gid=10">新手上路</a></span></li></ul>
    <ul id="pbbs" class="pf_l"><li><em>在线时间</em>12 小时</li><li><em>注册时间</em>2018-7-15 01:32</li>
    <li><em>最后访问</em>2025-11-2 20:15</li></ul>
    <div id="psts"><ul class="pf_l"><li><em>已用空间</em>0 B</li><li><em>积分</em>46</li><li><em>威望</em>0 </li>
    <li><em>金钱</em>28 </li><li><em>贡献</em>0 </li></ul></div></div></body></html>"""
    profile = parse_profile(page, BASE + "home.php?mod=space&uid=3&do=profile")
    assert (profile.uid, profile.username, profile.group, profile.registered_at, profile.last_visit_at) == (
        3, "多肉小白", "新手上路", "2018-07-15T01:32:00+08:00", "2025-11-02T20:15:00+08:00"
    )
    assert (profile.posts, profile.threads, profile.credits) == (16, 2, 46)
    assert profile.extcredits == {"威望": 0, "金钱": 28, "贡献": 0}


def test_a_label_the_theme_hides_stays_out_of_author_and_time():
    url = BASE + "thread-2-1-1.html"
    page = file_of("v1", url).read_text(encoding="utf-8")
    themed = page.replace('class="xw1">', 'class="xw1"><span class="display_none">作者：</span>').replace(
        '<em id="authorposton27">', '<em id="authorposton27"><span class="display_none">时间：</span>'
    )
    assert themed.count("作者：") > 5
    plain, hidden = parse_thread_page(page.encode(), url), parse_thread_page(themed.encode(), url)
    assert [(p.author, p.posted_at) for p in hidden.posts] == [(p.author, p.posted_at) for p in plain.posts]
    assert hidden.posts[0].author == "阳台农夫"


def test_the_mobile_api_gives_the_same_comments_poll_and_attachments(v1):
    pages, comments, _ = v1
    by_key = {c.key: c for c in comments}
    attachments = {a.aid: a for page in pages for a in page.attachments}
    for path in sorted((HERE / "v1" / "api").glob("*.json")):
        url = BASE + "api/mobile/" + path.name.replace("@", "?").removesuffix(".json")
        try:
            extras = parse_api_thread_extras(path.read_bytes(), url)
        except PageProblem as problem:  # tid 9: X3.5's HTTP 503 on PHP 8
            assert "in_array" in problem.message or problem.kind in ("broken", "error")
            continue
        for comment in extras.comments:
            assert by_key[comment.key].content_text == comment.content_text and comment.id.isdigit()
        page = next(p for p in pages if p.tid == extras.tid and p.page == 1)
        assert (extras.poll is None) == (page.poll is None)
        if extras.poll:
            assert extras.poll.options == page.poll.options and extras.poll.voters == page.poll.voters
        for attachment in extras.attachments:
            shown = attachments[attachment.aid]
            assert (attachment.filename, attachment.downloads, attachment.price) == (shown.filename, shown.downloads, shown.price)
        assert extras.special == page.special and extras.type_id == page.type_id


def test_v2_adds_exactly_what_changed():
    changes = json.loads((HERE / "v2" / "CHANGES.json").read_text(encoding="utf-8"))["changes"]
    pages, comments, ratings = crawl("v2")
    _, old_comments, old_ratings = crawl_v1_for(pages)
    new_comments = {c.key for c in comments} - {c.key for c in old_comments}
    assert sorted((c.pid, c.author_uid, c.content_text) for c in comments if c.key in new_comments) == sorted(
        (c["pid"], c["authorid"], c["comment"]) for c in changes if c["kind"] == "new_comment"
    )
    key = lambda r: (r.pid, r.rater_uid, r.credit, r.score, r.reason)  # noqa: E731
    new_ratings = Counter(map(key, ratings)) - Counter(map(key, old_ratings))
    assert sorted(new_ratings) == sorted(
        (c["pid"], c["uid"], c["credit_title"], c["score"], c["reason"]) for c in changes if c["kind"] == "new_rating"
    )
    polls = {page.tid: page.poll for page in pages if page.poll}
    for change in (c for c in changes if c["kind"] == "new_poll_votes"):
        assert polls[change["tid"]].voters == change["voters_after"]
        votes = {o.text: o.votes for o in polls[change["tid"]].options}
        for option in change["option_votes_changed"]:
            assert votes[option["polloption"]] == option["after"]
    downloads = {a.aid: a.downloads for page in pages for a in page.attachments}
    for change in (c for c in changes if c["kind"] == "download_count_changed"):
        assert downloads[change["aid"]] == change["downloads_after"]
    article = parse_article_page(read("v2", BASE + "article-1-1.html"), BASE + "article-1-1.html")
    change = next(c for c in changes if c["kind"] == "new_article_comment")
    assert article.comments_count == change["commentnum_after"]
    assert (change["cid"], change["username"], change["message"]) in [
        (c.cid, c.author, c.content_text) for c in article.comments
    ]


def crawl_v1_for(v2_pages):
    """The v1 crawl of the same threads v2's fixtures hold."""
    pages, comments, ratings = crawl("v1")
    tids = {page.tid for page in v2_pages}
    return ([p for p in pages if p.tid in tids], [c for c in comments if c.tid in tids],
            [r for r in ratings if r.tid in tids])


VIEWRATINGS = BASE + "forum.php?mod=misc&action=viewratings&tid=8&pid=70&inajax=1"
COMMENTMORE = BASE + "forum.php?mod=misc&action=commentmore&tid=6&pid=57&page=2&inajax=1&ajaxtarget=comment_57"


def test_a_refused_ajax_answer_is_recorded_with_what_it_said():
    refused = read("v1", BASE + "forum.php?mod=misc&action=viewvote&tid=8&infloat=yes&handlekey=viewvote&inajax=1"
                   "&ajaxtarget=fwin_content_viewvote")
    for parse, url in ((parse_viewratings, VIEWRATINGS), (parse_commentmore, COMMENTMORE)):
        with pytest.raises(PageProblem) as problem:
            parse(refused, url)
        assert (problem.value.kind, problem.value.message) == ("login", "抱歉，您无权查看本帖投票人")


@pytest.mark.parametrize("answer", [
    '<?xml version="1.0" encoding="utf-8"?>\n<root><![CDATA[]]></root>',
    '<?xml version="1.0" encoding="utf-8"?>\n<root><![CDATA[<h3 class="psth cm">点评</h3><div class="pgs mbm cl"></div>]]></root>',
    "",
])
def test_an_empty_ajax_answer_is_empty(answer):
    for parse, url in ((parse_viewratings, VIEWRATINGS), (parse_commentmore, COMMENTMORE)):
        with pytest.raises(PageProblem) as problem:
            parse(answer, url)
        assert problem.value.kind == "empty", (parse.__name__, answer)


def test_a_message_page_instead_of_the_answer_is_recorded():
    # A whole HTML message page where the XML was expected (a guest asked to log in).
    page = read("v1", BASE + "forum.php?mod=misc&action=attachpay&aid=6&tid=5")
    with pytest.raises(PageProblem) as problem:
        parse_commentmore(page, COMMENTMORE)
    assert problem.value.kind == "login"


def test_a_template_without_post_containers_it_knows_gives_empty_extras_not_a_problem(fixture_bytes):
    extras = parse_thread_extras(fixture_bytes("discuz/x35-touch-thread-1-p1.html"), BASE + "thread-1-1-1.html")
    assert (extras.comments, extras.ratings, extras.attachments, extras.poll) == ([], [], [], None)


def test_an_ajax_answer_in_the_sites_charset_is_read_by_its_xml_declaration():
    url = COMMENTMORE
    utf8 = read("v1", url)
    gbk = utf8.replace('encoding="utf-8"', 'encoding="gbk"').encode("gbk")
    assert parse_commentmore(gbk, url).comments == parse_commentmore(utf8.encode(), url).comments


def test_a_comment_whose_avatar_has_no_name_keeps_its_member_not_a_member_it_mentions():
    """A theme that draws a 点评's avatar without the name beside it (thread 2's first 点评,
    by 番茄先生, uid 10, with the name taken out): the member is known by the avatar's link,
    and a member the text mentions after its words ("… @name") is not taken for the author."""
    page = read("v1", "thread-2-1-1.html")
    named = '<a href="space-uid-10.html" class="xi2 xw1">番茄先生</a>'
    text = "盆太小真的是大问题，我之前用十升的盆，长到一半就黄叶。"
    assert page.count(named) == 1 and page.count(text) == 1
    mentioned = page.replace(named, "").replace(text, f'{text}<a href="space-uid-3.html">@绿萝</a>')
    first = next(c for c in parse_thread_extras(mentioned.encode(), BASE + "thread-2-1-1.html").comments if c.pid == 27)
    assert (first.author, first.author_uid) == (None, 10)
    assert first.content_text.startswith(text) and "@绿萝" in first.content_text
    as_x25 = page.replace(named, "").replace(text, f'&nbsp;<a href="space-uid-10.html" class="xi2 xw1">番茄先生</a> {text}')
    first = next(c for c in parse_thread_extras(as_x25.encode(), BASE + "thread-2-1-1.html").comments if c.pid == 27)
    assert (first.author, first.author_uid, first.content_text.startswith(text)) == ("番茄先生", 10, True)
