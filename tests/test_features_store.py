"""The storage of what a thread shows besides its posts, of portal articles and of profiles
(pipelines.store_extras), against the discuz-x-features snapshot's database truth
(tests/fixtures/discuz-x-features/README.md): its pages are read with the crawl's reader and
written with the archive's writes, v1 then v2, no crawl. Every 点评, rating, poll option, tag,
type, attachment, portal article and comment a guest can see is stored once, with its values;
v2 adds what CHANGES.json lists and nothing else; a page written twice changes nothing."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlite_utils import Database

from export import Filters, export

from pipelines.reparse import reparse
from pipelines.search import escape_fts
from pipelines.state import ArchiveState
from pipelines.store import open_archive, save_in_one_transaction
from scraper.models import CommentsRead, FetchedPage
from scraper.reading import fill_fetched_page
from scraper.urls import site_of

ROOT = Path(__file__).parent.parent
HERE = ROOT / "tests" / "fixtures" / "discuz-x-features"
BASE = "http://127.0.0.1:8082/"
SITE = site_of(BASE)
V1_AT, V2_AT = "2026-12-02T01:00:00+00:00", "2026-12-03T01:00:00+00:00"
# Tables whose rows a page written twice must leave as they were.
EXTRA_TABLES = ("post_comments", "ratings", "polls", "poll_options", "thread_tags", "attachments",
                "portal_articles", "portal_article_pages", "portal_comments", "users", "articles")


def truth(version: str) -> dict:
    return json.loads((HERE / version / "TRUTH.json").read_text(encoding="utf-8"))


def changes() -> list[dict]:
    return json.loads((HERE / "v2" / "CHANGES.json").read_text(encoding="utf-8"))["changes"]


def kind_of(name: str) -> str:
    if name.startswith("thread-"):
        return "thread"
    if name.startswith("api/"):
        return "api_thread"
    if name.startswith("article-") or "mod=view" in name:
        return "portal_article"
    if "mod=comment" in name:
        return "portal_comments"
    if "action=commentmore" in name:
        return "commentmore"
    if "action=viewratings" in name:
        return "viewratings"
    if "do=profile" in name:
        return "profile"
    raise ValueError(name)


def page(version: str, name: str, at: str, keep_body: bool = False) -> FetchedPage:
    """One snapshot file read as the crawl reads it."""
    body = (HERE / version / name).read_bytes()
    # the snapshot's names: the URL's path, "@" and its query, then ".html" (".json" for the API)
    stem = name.removesuffix(".json") if name.startswith("api/") else name
    if "@" in stem or stem.endswith(".php.html"):
        stem = stem.removesuffix(".html")
    url = BASE + ("api/mobile/" + stem.removeprefix("api/") if name.startswith("api/") else stem).replace("@", "?", 1)
    asked = kind_of(name)
    fetched = FetchedPage(url=url, site=SITE, kind=asked, status=200, fetched_at=at, size=len(body),
                          sha256=hashlib.sha256(body).hexdigest(), asked_as=asked)
    assert fill_fetched_page(fetched, body) is None
    fetched.body = body if keep_body else None  # for raw_pages, as ARCHIVE_RAW_PAGES=1 keeps them
    return fetched


def pages_of(version: str, at: str, keep_bodies: bool = False) -> list[FetchedPage]:
    folder = HERE / version
    names = sorted(
        path.name for path in folder.glob("*.html")
        if path.name.startswith(("thread-", "article-")) and path.name != "thread-9999-1-1.html"
        or any(word in path.name for word in ("commentmore", "viewratings", "mod=comment", "do=profile"))
    )
    return [page(version, name, at, keep_bodies) for name in names]


def reads_of_comments(pages: list[FetchedPage]) -> list[CommentsRead]:
    """What the spider says after it read a post's 点评 block and each of its commentmore pages."""
    keys: dict[tuple[int, int], list[str]] = {}
    for fetched in pages:
        extras = fetched.thread and fetched.thread.extras
        for pid in extras.comments_more if extras else ():
            keys[(extras.tid, pid)] = [c.key for c in extras.comments if c.pid == pid]
    for fetched in pages:
        if fetched.comment_page and (fetched.comment_page.tid, fetched.comment_page.pid) in keys:
            keys[(fetched.comment_page.tid, fetched.comment_page.pid)] += [c.key for c in fetched.comment_page.comments]
    at = pages[0].fetched_at
    return [CommentsRead(site=SITE, tid=tid, pid=pid, keys=found, read_at=at) for (tid, pid), found in keys.items()]


def archive(*versions: tuple[str, str]) -> Database:
    db = open_archive(Database(memory=True))
    for version, at in versions:
        pages = pages_of(version, at)
        save_in_one_transaction(db, [*pages, *reads_of_comments(pages)])
    return db


def rows(db: Database, sql: str, *params) -> list[tuple]:
    return [tuple(row) for row in db.execute(sql, params).fetchall()]


def visible_tids(version: str) -> set[int]:
    return {thread["tid"] for thread in truth(version)["threads"]} - set(truth(version).get("deleted_tids", []))


@pytest.fixture(scope="module")
def v1() -> Database:
    return archive(("v1", V1_AT))


@pytest.fixture(scope="module")
def v2() -> Database:
    return archive(("v1", V1_AT), ("v2", V2_AT))


def test_every_post_comment_once_with_its_values(v1):
    expected = Counter(
        (c["pid"], c["tid"], c["author"], c["authorid"], c["dateline_iso"][:16], c["comment"])
        for c in truth("v1")["comments"]
    )
    stored = Counter(rows(v1, "SELECT pid, tid, author, author_uid, substr(posted_at, 1, 16), content_text"
                              " FROM post_comments"))
    assert stored == expected
    assert rows(v1, "SELECT count(*) FROM post_comments WHERE gone_since IS NOT NULL") == [(0,)]


def test_every_rating_once_with_its_values(v1):
    expected = Counter((r["pid"], r["tid"], r["username"], r["uid"], r["credit_title"], r["score"], r["reason"])
                       for r in truth("v1")["ratings"])
    stored = Counter(rows(v1, "SELECT pid, tid, rater, rater_uid, credit, score, reason FROM ratings"))
    assert stored == expected
    # the times come from the viewratings lists: every rated post has one in the snapshot
    expected_times = Counter((r["pid"], r["uid"], r["credit_title"], r["dateline_iso"][:16]) for r in truth("v1")["ratings"])
    assert Counter(rows(v1, "SELECT pid, rater_uid, credit, substr(rated_at, 1, 16) FROM ratings")) == expected_times


def test_polls_and_their_options(v1):
    for poll in truth("v1")["polls"]:
        assert rows(v1, "SELECT multiple, max_choices, voters, results_visible FROM polls WHERE tid = ?", poll["tid"]) == [
            (poll["multiple"], poll["maxchoices"], poll["voters"], poll["visible"])
        ]
        options = rows(v1, "SELECT text, votes FROM poll_options WHERE tid = ? ORDER BY option_no", poll["tid"])
        assert options == [(option["polloption"], option["votes"]) for option in poll["options"]]


def test_tags_types_and_special_kinds(v1):
    threads = [thread for thread in truth("v1")["threads"] if thread["tid"] in visible_tids("v1")]
    expected_tags = sorted((thread["tid"], tag["name"]) for thread in threads for tag in thread["tags"])
    assert sorted(rows(v1, "SELECT tid, tag FROM thread_tags")) == expected_tags
    specials = {0: None, 1: "poll"}
    for thread in threads:
        stored = rows(v1, "SELECT type_id, type_name, special FROM articles WHERE tid = ?", thread["tid"])
        assert stored == [(thread["typeid"] or None, thread["type_name"], specials[thread["special"]])], thread["tid"]


def test_every_attachment_once_keyed_on_its_aid(v1):
    expected = sorted(
        (a["aid"], a["tid"], a["pid"], a["filename"], a["isimage"], a["price"] or None) for a in truth("v1")["attachments"]
    )
    assert sorted(rows(v1, "SELECT aid, tid, pid, filename, is_image, price FROM attachments")) == expected
    downloads = dict(rows(v1, "SELECT aid, downloads FROM attachments WHERE is_image = 0 AND price IS NULL"))
    assert downloads == {a["aid"]: a["downloads"] for a in truth("v1")["attachments"] if not a["isimage"] and not a["price"]}
    # the media issue's columns wait empty
    assert rows(v1, "SELECT count(*) FROM attachments WHERE sha256 IS NOT NULL OR stored_path IS NOT NULL") == [(0,)]


def test_portal_articles_whole_and_their_comments(v1):
    for article in truth("v1")["articles"]:
        stored = rows(v1, "SELECT title, author, author_uid, substr(posted_at, 1, 16), page_count, content_text"
                          " FROM portal_articles WHERE aid = ?", article["aid"])
        (title, author, uid, posted, page_count, text), = stored
        assert (title, author, uid, posted, page_count) == (
            article["title"], article["author"], article["uid"], article["dateline_iso"][:16], article["contents"]
        )
        for part in article["pages"]:  # every page's text, in order
            last_words = part["content"].rsplit("</p>", 2)[-2].rsplit(">", 1)[-1][-12:]
            assert last_words in text
        comments = [(c["cid"], c["username"], c["uid"], c["message"]) for c in article["comments"]]
        assert rows(v1, "SELECT cid, author, author_uid, content_text FROM portal_comments WHERE aid = ? ORDER BY cid",
                    article["aid"]) == comments


def test_a_profile_guests_may_not_see_is_recorded(v1):
    assert rows(v1, "SELECT profile_status FROM users WHERE uid = 3") == [("members_only",)]


def test_the_same_pages_written_twice_change_nothing(v1):
    before = {table: rows(v1, f"SELECT * FROM [{table}]") for table in EXTRA_TABLES}
    pages = pages_of("v1", V1_AT)
    counts = save_in_one_transaction(v1, [*pages, *reads_of_comments(pages)])
    assert {table: rows(v1, f"SELECT * FROM [{table}]") for table in EXTRA_TABLES} == before
    assert not {name for name in counts if name not in ("archive/pages", "archive/errors")}  # errors: the profile


def test_v2_adds_exactly_what_changed(v1, v2):
    listed = changes()
    new_comments = {(c["pid"], c["author"], c["comment"]) for c in listed if c["kind"] == "new_comment"}
    added = set(rows(v2, "SELECT pid, author, content_text FROM post_comments WHERE first_seen_at = ?", "2026-12-03T01:00:00+00:00"))
    assert added == new_comments
    new_ratings = {(c["pid"], c["uid"], c["credit_title"], c["score"], c["reason"]) for c in listed if c["kind"] == "new_rating"}
    added = set(rows(v2, "SELECT pid, rater_uid, credit, score, reason FROM ratings WHERE first_seen_at = ?",
                     "2026-12-03T01:00:00+00:00"))
    assert added == new_ratings
    for change in (c for c in listed if c["kind"] == "new_poll_votes"):
        assert rows(v2, "SELECT voters FROM polls WHERE tid = ?", change["tid"]) == [(change["voters_after"],)]
        for option in change["option_votes_changed"]:
            assert rows(v2, "SELECT votes FROM poll_options WHERE tid = ? AND text = ?", change["tid"], option["polloption"]) == [
                (option["after"],)
            ]
    for change in (c for c in listed if c["kind"] == "download_count_changed"):
        assert rows(v2, "SELECT downloads FROM attachments WHERE aid = ?", change["aid"]) == [(change["downloads_after"],)]
    for change in (c for c in listed if c["kind"] == "new_article_comment"):
        assert rows(v2, "SELECT aid, author, content_text FROM portal_comments WHERE cid = ?", change["cid"]) == [
            (change["aid"], change["username"], change["message"])
        ]
        assert rows(v2, "SELECT comments FROM portal_articles WHERE aid = ?", change["aid"]) == [(change["commentnum_after"],)]
    # nothing vanished between the snapshots: nothing is marked gone, nothing is there twice
    for table in ("post_comments", "ratings", "thread_tags", "attachments", "portal_comments", "poll_options"):
        assert rows(v2, f"SELECT count(*) FROM [{table}] WHERE gone_since IS NOT NULL") == [(0,)], table
    assert rows(v2, "SELECT count(*) FROM post_comments") == [(len(truth("v2")["comments"]),)]
    assert rows(v2, "SELECT count(*) FROM ratings") == [(len(truth("v2")["ratings"]),)]


def test_what_a_complete_read_no_longer_shows_is_marked_gone_never_deleted():
    db = archive(("v1", V1_AT))
    thread = page("v1", "thread-6-1-1.html", V2_AT)
    extras = thread.thread.extras
    kept = [c.key for c in extras.comments if c.pid == 57][:2]
    save_in_one_transaction(db, [CommentsRead(site=SITE, tid=6, pid=57, keys=kept, read_at=V2_AT)])
    assert rows(db, "SELECT count(*), count(gone_since) FROM post_comments WHERE pid = 57") == [(12, 10)]
    # it shows again: no longer gone
    pages = [thread] + [page("v1", f"forum.php@mod=misc&action=commentmore&tid=6&pid=57&page={n}&inajax=1"
                                   f"&ajaxtarget=comment_57.html", V2_AT) for n in (1, 2, 3)]
    save_in_one_transaction(db, [*pages, *reads_of_comments(pages)])
    assert rows(db, "SELECT count(*), count(gone_since) FROM post_comments WHERE pid = 57") == [(12, 0)]
    # a viewratings list replaces the thread page's rows of its post
    ratings = page("v1", "forum.php@mod=misc&action=viewratings&tid=1&pid=1.html", V2_AT)
    dropped = ratings.ratings_page.ratings.pop()
    save_in_one_transaction(db, [ratings])
    gone = rows(db, "SELECT rater_uid, credit FROM ratings WHERE pid = 1 AND gone_since IS NOT NULL")
    assert gone == [(dropped.rater_uid, dropped.credit)]


def test_a_thread_page_keeps_the_rating_times_of_the_list():
    db = archive(("v1", V1_AT))
    before = rows(db, "SELECT count(*) FROM ratings WHERE rated_at IS NOT NULL")
    save_in_one_transaction(db, [page("v1", "thread-1-1-1.html", V2_AT)])
    assert rows(db, "SELECT count(*) FROM ratings WHERE rated_at IS NOT NULL") == before


def test_the_mobile_api_fills_the_same_rows_and_marks_no_ratings_or_tags_gone():
    db = archive(("v1", V1_AT))
    before = rows(db, "SELECT key, pid, author, content_text FROM post_comments ORDER BY key")
    polls_before = rows(db, "SELECT tid, option_no, text, votes FROM poll_options ORDER BY tid, option_no")
    api = [page("v1", f"api/{path.name}", V2_AT) for path in sorted((HERE / "v1" / "api").glob("*.json"))
           if "tid=9&" not in path.name]  # tid 9: X3.5's HTTP 503 on PHP 8
    save_in_one_transaction(db, api)
    assert rows(db, "SELECT key, pid, author, content_text FROM post_comments ORDER BY key") == before
    for table in ("ratings", "thread_tags", "post_comments", "attachments", "poll_options"):
        assert rows(db, f"SELECT count(*) FROM [{table}] WHERE gone_since IS NOT NULL") == [(0,)], table
    assert rows(db, "SELECT tid, option_no, text, votes FROM poll_options ORDER BY tid, option_no") == polls_before
    # the API's 点评 carry Discuz's ids
    assert rows(db, "SELECT count(*) FROM post_comments WHERE id != key") != [(0,)]


def test_an_archive_of_an_earlier_version_gets_the_new_tables_and_columns(tmp_path):
    path = tmp_path / "old.db"
    old = Database(path)
    old["sites"].create({"site": str}, pk="site")
    old["users"].create({"site": str, "uid": int, "username": str, "first_seen_at": str}, pk=("site", "uid"))
    old["users"].insert({"site": SITE, "uid": 3, "username": "多肉小白"})
    old.close()
    db = open_archive(str(path))
    assert {"user_group", "registered_at", "extcredits", "profile_status"} <= set(db["users"].columns_dict)
    assert {"type_id", "type_name", "special"} <= set(db["articles"].columns_dict)
    save_in_one_transaction(db, [page("v1", "home.php@mod=space&uid=3&do=profile.html", V1_AT)])
    assert rows(db, "SELECT username, profile_status FROM users") == [("多肉小白", "members_only")]


def test_the_thread_query_shows_each_posts_comments_and_ratings(v1):
    sql = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))["databases"]["archive"]["queries"]["thread"]["sql"]
    cursor = v1.execute(sql, {"tid": 6, "site": "", "after": ""})
    names = [column[0] for column in cursor.description]
    by_pid = {row["pid"]: row for row in (dict(zip(names, values)) for values in cursor)}
    assert len(by_pid[57]["post_comments"].splitlines()) == 12
    cursor = v1.execute(sql, {"tid": 1, "site": "", "after": ""})
    names = [column[0] for column in cursor.description]
    first = next(dict(zip(names, values)) for values in cursor)
    expected = {(r["username"], r["credit_title"], r["score"]) for r in truth("v1")["ratings"] if r["pid"] == 1}
    assert len(first["ratings"].splitlines()) == len(expected)
    for rater, credit, score in expected:
        assert f"{rater} {credit} {score:+d}" in first["ratings"]


@pytest.mark.parametrize("source", ["post_comments", "ratings", "poll_options", "thread_tags", "attachments",
                                    "portal_articles", "portal_comments"])
def test_the_new_tables_export_with_their_filters(v1, tmp_path, source):
    path = tmp_path / "archive.db"
    v1.conn.commit()
    v1.conn.execute(f"VACUUM INTO '{path}'")
    out = io.StringIO()
    everything = export(path, source, "jsonl", out)
    assert everything == rows(v1, f"SELECT count(*) FROM [{source}]")[0][0] > 0
    assert export(path, source, "jsonl", io.StringIO(), Filters(sites=[SITE], since="2019", until="2026")) > 0
    if source.startswith("portal_"):
        with pytest.raises(ValueError, match="no forum"):
            export(path, source, "jsonl", io.StringIO(), Filters(forums=["2"]))
    else:
        in_forum = export(path, source, "jsonl", io.StringIO(), Filters(forums=["2"]))
        assert 0 < in_forum < everything or source == "poll_options"


def test_a_reparse_of_the_kept_pages_gives_the_same_rows(tmp_path):
    """Each new kind of page is kept with what it was asked as, and read again as the crawl read it."""
    source = open_archive(str(tmp_path / "crawled.db"))
    pages = pages_of("v1", V1_AT, keep_bodies=True)
    save_in_one_transaction(source, [*pages, *reads_of_comments(pages)])
    source.close()
    reparse(tmp_path / "crawled.db", tmp_path / "rebuilt.db")
    old, new = Database(tmp_path / "crawled.db"), Database(tmp_path / "rebuilt.db")
    for table in EXTRA_TABLES:
        assert rows(new, f"SELECT * FROM [{table}]") == rows(old, f"SELECT * FROM [{table}]"), table


def test_a_failed_comment_or_ratings_page_is_recorded_and_asked_again_the_post_stays():
    db = archive(("v1", V1_AT))
    url = BASE + "forum.php?mod=misc&action=commentmore&tid=6&pid=57&page=2&inajax=1&ajaxtarget=comment_57"
    broken = FetchedPage(url=url, site=SITE, kind="commentmore", status=200, fetched_at=V2_AT, size=0, sha256="",
                         asked_as="commentmore", tid=6)  # the spider files what it asks under its thread
    fill_fetched_page(broken, b"<?xml version=\"1.0\" encoding=\"utf-8\"?><root><![CDATA[]]></root>")
    save_in_one_transaction(db, [broken])
    assert rows(db, "SELECT kind, asked_as, tid, error IS NOT NULL FROM pages WHERE url = ?", url) == [
        ("empty", "commentmore", 6, 1)
    ]
    assert rows(db, "SELECT count(*), count(gone_since) FROM post_comments WHERE pid = 57") == [(12, 0)]
    state = ArchiveState.over(db)
    assert state.pages_to_retry(SITE, ("commentmore", "viewratings", "profile")) == [url]
    # the members-only profile is recorded, not asked again; members never asked for are
    assert 3 not in state.users_without_profile(SITE)


@pytest.mark.parametrize("name", [
    "forum.php@mod=misc&action=commentmore&tid=6&pid=57&page=2&inajax=1&ajaxtarget=comment_57.html",
    "forum.php@mod=misc&action=viewratings&tid=1&pid=9&infloat=yes&handlekey=viewratings&inajax=1"
    "&ajaxtarget=fwin_content_viewratings.html",
])
def test_an_ajax_answer_in_gbk_reads_as_in_utf8(name):
    """A GBK forum's ajax answers name their charset only in the XML declaration (the HTTP
    header says text/xml)."""
    utf8 = page("v1", name, V1_AT)
    text = (HERE / "v1" / name).read_text(encoding="utf-8").replace('encoding="utf-8"', 'encoding="gbk"', 1)
    gbk = FetchedPage(url=utf8.url, site=SITE, kind=utf8.asked_as, status=200, fetched_at=V1_AT, size=0, sha256="",
                      asked_as=utf8.asked_as, content_type="text/xml")
    assert fill_fetched_page(gbk, text.encode("gbk")) is None
    assert (gbk.kind, gbk.charset) == (utf8.asked_as, "gb18030")
    assert (gbk.comment_page, gbk.ratings_page) == (utf8.comment_page, utf8.ratings_page)


def test_search_finds_post_comments_and_portal_text(v1):
    """The search query and the search boxes find 点评 and portal text too, at any length."""
    search = yaml.safe_load((ROOT / "metadata.yml").read_text(encoding="utf-8"))["databases"]["archive"]["queries"]["search"]["sql"]
    found = {}
    for table, kind in (("post_comments", "post_comment"), ("portal_articles", "portal_article"), ("portal_comments", "portal_comment")):
        text = v1.execute(f"SELECT content_text FROM [{table}] WHERE length(content_text) >= 6 LIMIT 1").fetchone()[0]
        word = text.strip()[:4]
        hits = list(v1.query(search, {"q": word, "site": ""}))
        assert kind in {hit["found_in"] for hit in hits}, (table, word)
        # the table's search box (datasette's fts_table, with the plugin's escape_fts)
        assert v1.execute(f"SELECT count(*) FROM [{table}_fts] WHERE [{table}_fts] MATCH ?", [escape_fts(word[:2])]).fetchone()[0]
        found[kind] = hits
    article = next(hit for hit in found["portal_article"] if hit["found_in"] == "portal_article")
    assert article["title"] == v1.execute("SELECT title FROM portal_articles WHERE aid = ?", [article["aid"]]).fetchone()[0]


def _first_comment_of_57_shown_at(thread: FetchedPage, other_time: str):
    """The thread page as if it showed post 57's first 点评 at ``other_time`` (its key holds
    the time); the 点评 as the page really shows it."""
    from dataclasses import replace

    from scraper.post_extras import comment_key

    extras = thread.thread.extras
    shown = next(c for c in extras.comments if c.pid == 57)
    key = comment_key(shown.pid, shown.author_uid, shown.author, other_time, shown.content_text)
    extras.comments[extras.comments.index(shown)] = replace(shown, posted_at=other_time, key=key, id=key)
    return shown


@pytest.mark.parametrize("thread_page_first", [True, False])
def test_a_comment_shown_with_two_times_is_stored_once_at_the_full_lists_time(thread_page_first):
    """The thread page shows one of post 57's 点评 at another time than its commentmore list
    (a page cached before an edit, a relative time): one row, the list's key and time, in
    whichever order the two pages come, and the complete read marks nothing gone."""
    db = open_archive(":memory:")
    thread = page("v1", "thread-6-1-1.html", V1_AT)
    shown = _first_comment_of_57_shown_at(thread, "2026-11-30T09:00:00+08:00")
    lists = [page("v1", f"forum.php@mod=misc&action=commentmore&tid=6&pid=57&page={n}&inajax=1"
                        f"&ajaxtarget=comment_57.html", V1_AT) for n in (1, 2, 3)]
    pages = [thread, *lists] if thread_page_first else [*lists, thread]
    for one in pages:  # one transaction each, as they come
        save_in_one_transaction(db, [one])
    save_in_one_transaction(db, reads_of_comments([thread, *lists]))
    in_list = [c for one in lists for c in one.comment_page.comments]
    assert rows(db, "SELECT key, posted_at, gone_since FROM post_comments WHERE pid = 57 AND content_text = ?"
                " AND author IS ?", shown.content_text, shown.author) == [(shown.key, shown.posted_at, None)]
    assert rows(db, "SELECT count(*), count(gone_since) FROM post_comments WHERE pid = 57") == [(len(in_list), 0)]
    save_in_one_transaction(db, [thread])  # the thread page again: still one row
    assert rows(db, "SELECT count(*), count(gone_since) FROM post_comments WHERE pid = 57") == [(len(in_list), 0)]


def test_a_comment_a_cached_thread_page_showed_at_another_time_is_not_gone_when_read_again():
    """A first run reads post 57's block from a thread page cached before an edit (one 点评 at
    another time: its row has that key); a later run reads the page as it is now, with the
    full list: one row still, and not gone (the complete read marked it gone: its key was the
    earlier page's, and the 点评 the site still shows was flagged deleted)."""
    db = open_archive(":memory:")
    cached = page("v1", "thread-6-1-1.html", V1_AT)
    shown = _first_comment_of_57_shown_at(cached, "2021-02-27T02:57:00+08:00")
    names = [f"forum.php@mod=misc&action=commentmore&tid=6&pid=57&page={n}&inajax=1&ajaxtarget=comment_57.html"
             for n in (2, 3)]  # the crawl reads the block, then the list from page 2
    for at, thread in ((V1_AT, cached), (V2_AT, page("v1", "thread-6-1-1.html", V2_AT))):
        pages = [thread, *(page("v1", name, at) for name in names)]
        for one in pages:
            save_in_one_transaction(db, [one])
        save_in_one_transaction(db, reads_of_comments(pages))
    assert rows(db, "SELECT count(*), count(gone_since) FROM post_comments WHERE pid = 57 AND content_text = ?"
                " AND author IS ?", shown.content_text, shown.author) == [(1, 0)]
    assert rows(db, "SELECT count(gone_since) FROM post_comments WHERE pid = 57") == [(0,)]
