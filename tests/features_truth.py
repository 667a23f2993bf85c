"""What an archive of the discuz-x-features snapshot must hold, checked against its TRUTH.json
and CHANGES.json (tests/fixtures/discuz-x-features/README.md), and the crawls that make one.

Shared by tests/test_features_crawl.py (the forum as it was saved) and
tests/test_features_settings.py (the same forum under other settings): whatever the forum's
charset, URL form, posts per page, raters shown or date format, the archive is the same.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

from sqlite_utils import Database

from sample_forum.server import serve

HERE = Path(__file__).parent / "fixtures" / "discuz-x-features"
SAVED_AT = "http://127.0.0.1:8082/"  # where the snapshot's links point
# served-vN/ holds the URL map and the files the crawl asks for that vN/ (the parser tests'
# pages) lacks; v2's unchanged files are v1's.
V1 = dict(version=str(HERE / "served-v1"), fallback=[HERE / "v1"])
V2 = dict(version=str(HERE / "served-v2"), fallback=[HERE / "v2", HERE / "served-v1", HERE / "v1"])
# Discuz's stock robots.txt disallows ?mod=misc (commentmore, viewratings): these crawls run as
# the forum's owner would, with ROBOTSTXT_OBEY off.
OWNER = {"ROBOTSTXT_OBEY": False}


def truth(version: str) -> dict:
    return json.loads((HERE / version / "TRUTH.json").read_text(encoding="utf-8"))


def changes() -> list[dict]:
    return json.loads((HERE / "v2" / "CHANGES.json").read_text(encoding="utf-8"))["changes"]


def rows(db: Database, sql: str, *params) -> list[tuple]:
    return [tuple(row) for row in db.execute(sql, params).fetchall()]


def visible_tids(version: str) -> set[int]:
    return {thread["tid"] for thread in truth(version)["threads"]} - set(truth(version).get("deleted_tids", []))


def crawl_stages(folder: Path, scrapy_crawl, stages: list[tuple[str, str, tuple[str, ...]]], **options) -> dict:
    """Crawl the forum from its index, served with ``options`` (serve()'s), once per stage
    (name, "v1" or "v2": the snapshot served, spider arguments), into one archive: each
    stage's archive (a copy), the requests the server got, and the crawl's result."""
    db_path = folder / "archive.db"
    done = {}
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"], **options) as forum:
        for name, version, arguments in stages:
            if version == "v2" and forum.version != Path(V2["version"]).name:
                forum.switch(V2["version"], V2["fallback"])
            forum.clear_requests()
            result = scrapy_crawl(db_path, f"url={forum.base_url}forum.php", *arguments, settings=OWNER)
            copy = folder / f"{name}.db"
            shutil.copy(db_path, copy)
            done[name] = (Database(copy), sorted(forum.requests), result)
    return done


# --- v1: everything a guest can see, once ---------------------------------------------------


def check_posts(db: Database, version: str = "v1") -> None:
    """Every post once, on its floor, with its author and time; every thread's first post and last post time."""
    threads = [thread for thread in truth(version)["threads"] if thread["tid"] in visible_tids(version)]
    replies = [post for thread in threads for post in thread["posts"] if not post["first"]]
    assert sorted(rows(db, "SELECT pid, tid, floor, author, posted_at FROM comments")) == sorted(
        (post["pid"], post["tid"], post["position"], post["author"], post["dateline_iso"]) for post in replies
    )
    assert sorted(rows(db, "SELECT tid, author, posted_at, substr(last_post_at, 1, 16) FROM articles")) == sorted(
        (thread["tid"], thread["author"], thread["dateline_iso"], thread["lastpost_iso"][:16]) for thread in threads
    )


def check_post_comments(db: Database, version: str = "v1") -> None:
    expected = Counter(
        (c["pid"], c["tid"], c["author"], c["authorid"], c["dateline_iso"][:16], c["comment"])
        for c in truth(version)["comments"]
    )
    stored = Counter(rows(db, "SELECT pid, tid, author, author_uid, substr(posted_at, 1, 16), content_text FROM post_comments"))
    assert stored == expected
    assert rows(db, "SELECT count(*) FROM post_comments WHERE gone_since IS NOT NULL") == [(0,)]


def check_ratings(db: Database, version: str = "v1") -> None:
    """Every rating once; where the full list was read (rated_at is known), its time."""
    ratings = truth(version)["ratings"]
    expected = Counter((r["pid"], r["tid"], r["username"], r["uid"], r["credit_title"], r["score"], r["reason"]) for r in ratings)
    assert Counter(rows(db, "SELECT pid, tid, rater, rater_uid, credit, score, reason FROM ratings")) == expected
    times = {(r["pid"], r["uid"], r["credit_title"]): r["dateline_iso"][:16] for r in ratings}
    for pid, uid, credit, rated_at in rows(db, "SELECT pid, rater_uid, credit, substr(rated_at, 1, 16) FROM ratings"
                                              " WHERE rated_at IS NOT NULL"):
        assert rated_at == times[pid, uid, credit]


def check_polls(db: Database, version: str = "v1") -> None:
    for poll in truth(version)["polls"]:
        assert rows(db, "SELECT multiple, max_choices, voters, results_visible FROM polls WHERE tid = ?", poll["tid"]) == [
            (poll["multiple"], poll["maxchoices"], poll["voters"], poll["visible"])
        ]
        options = rows(db, "SELECT text, votes FROM poll_options WHERE tid = ? ORDER BY option_no", poll["tid"])
        assert options == [(option["polloption"], option["votes"]) for option in poll["options"]]


def check_tags_and_types(db: Database, version: str = "v1") -> None:
    threads = [thread for thread in truth(version)["threads"] if thread["tid"] in visible_tids(version)]
    assert sorted(rows(db, "SELECT tid, tag FROM thread_tags")) == sorted(
        (thread["tid"], tag["name"]) for thread in threads for tag in thread["tags"]
    )
    specials = {0: None, 1: "poll"}
    for thread in threads:
        stored = rows(db, "SELECT type_id, type_name, special FROM articles WHERE tid = ?", thread["tid"])
        assert stored == [(thread["typeid"] or None, thread["type_name"], specials[thread["special"]])], thread["tid"]


def check_attachments(db: Database, version: str = "v1") -> None:
    """Every attachment once, keyed on its aid, with its upload time."""
    expected = sorted((a["aid"], a["tid"], a["pid"], a["filename"], a["isimage"], a["price"] or None, a["dateline_iso"][:16])
                      for a in truth(version)["attachments"])
    stored = rows(db, "SELECT aid, tid, pid, filename, is_image, price, substr(uploaded_at, 1, 16) FROM attachments")
    assert sorted(stored) == expected


def check_portal(db: Database, version: str = "v1") -> None:
    """Every portal article, every page's text, its comments."""
    for article in truth(version)["articles"]:
        (title, author, uid, posted, page_count, text), = rows(
            db, "SELECT title, author, author_uid, substr(posted_at, 1, 16), page_count, content_text"
                " FROM portal_articles WHERE aid = ?", article["aid"])
        assert (title, author, uid, posted, page_count) == (
            article["title"], article["author"], article["uid"], article["dateline_iso"][:16], article["contents"]
        )
        for part in article["pages"]:  # every page's text, in order
            assert part["content"].rsplit("</p>", 2)[-2].rsplit(">", 1)[-1][-12:] in text
        assert rows(db, "SELECT cid, author, author_uid, substr(posted_at, 1, 16), content_text FROM portal_comments"
                        " WHERE aid = ? ORDER BY cid", article["aid"]) == [
            (c["cid"], c["username"], c["uid"], c["dateline_iso"][:16], c["message"]) for c in article["comments"]
        ]


def check_everything(db: Database, version: str = "v1") -> None:
    """Everything TRUTH.json says a guest can see of ``version``, once, with its values."""
    for check in (check_posts, check_post_comments, check_ratings, check_polls, check_tags_and_types,
                  check_attachments, check_portal):
        check(db, version)


# --- v2: refresh=all adds exactly what CHANGES.json lists ------------------------------------


def check_refresh(db: Database, before: Database) -> None:
    """``db`` (v1's archive ``before``, refreshed from v2) holds exactly v1 and the changes."""
    listed = changes()
    old_keys = {row[0] for row in rows(before, "SELECT key FROM post_comments")}
    added = {(pid, author, text) for key, pid, author, text in rows(db, "SELECT key, pid, author, content_text FROM post_comments")
             if key not in old_keys}
    assert added == {(c["pid"], c["author"], c["comment"]) for c in listed if c["kind"] == "new_comment"}
    new_ratings = {(c["pid"], c["uid"], c["credit_title"], c["score"], c["reason"]) for c in listed if c["kind"] == "new_rating"}
    old = set(rows(before, "SELECT pid, rater_uid, credit, score, reason FROM ratings"))
    assert set(rows(db, "SELECT pid, rater_uid, credit, score, reason FROM ratings")) - old == new_ratings
    for change in (c for c in listed if c["kind"] == "new_poll_votes"):
        assert rows(db, "SELECT voters FROM polls WHERE tid = ?", change["tid"]) == [(change["voters_after"],)]
        for option in change["option_votes_changed"]:
            assert rows(db, "SELECT votes FROM poll_options WHERE tid = ? AND text = ?", change["tid"], option["polloption"]) == [
                (option["after"],)
            ]
    for change in (c for c in listed if c["kind"] == "download_count_changed"):
        assert rows(db, "SELECT downloads FROM attachments WHERE aid = ?", change["aid"]) == [(change["downloads_after"],)]
    for change in (c for c in listed if c["kind"] == "new_article_comment"):
        assert rows(db, "SELECT aid, author, content_text FROM portal_comments WHERE cid = ?", change["cid"]) == [
            (change["aid"], change["username"], change["message"])
        ]
        assert rows(db, "SELECT comments FROM portal_articles WHERE aid = ?", change["aid"]) == [(change["commentnum_after"],)]
    for change in (c for c in listed if c["kind"] == "new_reply"):
        assert rows(db, "SELECT author FROM comments WHERE pid = ?", change["pid"]) == [(change["author"],)]
    # nothing vanished between the snapshots: nothing marked gone, nothing twice
    for table in ("post_comments", "ratings", "thread_tags", "attachments", "portal_comments", "poll_options"):
        assert rows(db, f"SELECT count(*) FROM [{table}] WHERE gone_since IS NOT NULL") == [(0,)], table
    assert rows(db, "SELECT count(*) FROM post_comments") == [(len(truth("v2")["comments"]),)]
    assert rows(db, "SELECT count(*) FROM ratings") == [(len(truth("v2")["ratings"]),)]
    assert rows(db, "SELECT count(*) FROM attachments") == [(len(truth("v2")["attachments"]),)]


# What the archive holds of each new table, without the site (its port) or read times.
CONTENT = {
    "post_comments": "pid, tid, author, author_uid, posted_at, content_text",
    "ratings": "pid, tid, rater, rater_uid, credit, score, reason, rated_at",
    "polls": "tid, multiple, max_choices, voters, expires_at, results_visible",
    "poll_options": "tid, option_no, text, votes",
    "thread_tags": "tid, tag",
    "attachments": "aid, pid, tid, filename, size, downloads, is_image, price, denied",
    "portal_articles": "aid, title, author, author_uid, posted_at, category, summary, content_text, views, comments",
    "portal_comments": "cid, aid, author, author_uid, posted_at, content_text",
    "articles": "tid, type_id, type_name, special",
}


def contents(db: Database) -> dict[str, Counter]:
    return {table: Counter(rows(db, f"SELECT {columns} FROM [{table}]")) for table, columns in CONTENT.items()}
