"""End to end: ``scrapy crawl discuz`` of the discuz-x-features snapshot, served on 127.0.0.1
(tests/fixtures/discuz-x-features/README.md), from its index, as a user runs it. The archive
holds every 点评, rating, poll option, tag, type, attachment, portal article and comment that
the snapshot's TRUTH.json says a guest can see, once; a re-run of the unchanged forum costs
its lists only; ``refresh=all`` on v2 adds exactly what CHANGES.json lists; with
``user_profiles=1`` the members-only profile pages are recorded and not asked again.

Discuz's stock robots.txt disallows ``?mod=misc`` (commentmore, viewratings): these crawls
run as the forum's owner would, with ROBOTSTXT_OBEY off.
"""

from __future__ import annotations

from collections import Counter

import pytest
from sqlite_utils import Database

from sample_forum.server import Page, serve, url_key
from tests.features_truth import (
    OWNER,
    SAVED_AT,
    V1,
    check_attachments,
    check_everything,
    check_polls,
    check_portal,
    check_post_comments,
    check_posts,
    check_ratings,
    check_refresh,
    check_tags_and_types,
    changes,
    contents,
    rows,
    truth,
    visible_tids,
)


@pytest.fixture(scope="module")
def crawls(features_crawls):
    """v1 from its index, v1 again, v2 as the thread lists show it, v2 with refresh=all: each
    stage's archive (a copy) and the requests the server got (conftest.py: tests/test_export_analysis.py reads them too)."""
    return features_crawls


@pytest.fixture(scope="module")
def v1(crawls) -> Database:
    return crawls["v1"][0]


def test_every_post_once_on_its_floor_with_its_time(v1):
    check_posts(v1)


def test_every_post_comment_once_with_its_values(v1):
    check_post_comments(v1)


def test_a_post_with_more_comments_than_shown_is_read_through_every_commentmore_page(crawls):
    _, requests, _ = crawls["v1"]
    more = [path for path in requests if "action=commentmore" in path]
    # tid 6 pid 57 has 12 点评: 5 on the thread page, then pages 2 and 3; no other post has more than 5
    assert more == [f"/forum.php?mod=misc&action=commentmore&tid=6&pid=57&page={n}&inajax=1&ajaxtarget=comment_57"
                    for n in (2, 3)]


def test_every_rating_once_with_its_values(v1, crawls):
    check_ratings(v1)
    # the full list is read where the page shows only the latest raters (tid 1 pid 1: 7 of them), and gives the times
    _, requests, _ = crawls["v1"]
    assert [path for path in requests if "viewratings" in path] == ["/forum.php?mod=misc&action=viewratings&tid=1&pid=1"]
    assert rows(v1, "SELECT count(*) FROM ratings WHERE rated_at IS NOT NULL") == rows(v1, "SELECT count(*) FROM ratings WHERE pid = 1")


def test_polls_and_their_options(v1):
    check_polls(v1)


def test_tags_types_and_special_kinds(v1):
    check_tags_and_types(v1)


def test_every_attachment_once_keyed_on_its_aid(v1):
    check_attachments(v1)


def test_portal_articles_every_page_and_their_comments(v1, crawls):
    check_portal(v1)
    # found from the portal, whose index is an empty DIY page: its first category, then the others it links
    _, requests, _ = crawls["v1"]
    assert [path for path in requests if "portal.php" in path or "article-" in path] == [
        "/article-1-1.html", "/article-1-2.html", "/article-2-1.html",
        "/portal.php", "/portal.php?mod=comment&id=1&idtype=aid", "/portal.php?mod=comment&id=2&idtype=aid",
        "/portal.php?mod=list&catid=1", "/portal.php?mod=list&catid=2",
    ]


def test_every_page_once_and_no_problem_but_the_profiles_guests_may_not_see(v1, crawls):
    _, requests, _ = crawls["v1"]
    assert len(requests) == len(set(requests))
    problems = rows(v1, "SELECT asked_as, kind, count(*) FROM pages WHERE error IS NOT NULL GROUP BY 1, 2")
    authors = {uid for (uid,) in rows(v1, "SELECT DISTINCT author_uid FROM comments WHERE author_uid IS NOT NULL")}
    assert problems == [("profile", "login", len(authors))]
    assert rows(v1, "SELECT DISTINCT profile_status FROM users WHERE uid IN (SELECT author_uid FROM comments)") == [
        ("members_only",)
    ]


def test_an_unchanged_forum_costs_its_lists_only(crawls):
    _, requests, _ = crawls["v1-again"]
    # the index, the first page of each forum's list, the portal's lists; no profile asked again
    assert requests == ["/forum-2-1.html", "/forum-3-1.html", "/forum-4-1.html", "/forum.php",
                        "/portal.php", "/portal.php?mod=list&catid=1", "/portal.php?mod=list&catid=2"]
    before, after = crawls["v1"][0], crawls["v1-again"][0]
    for table in ("post_comments", "ratings", "poll_options", "thread_tags", "attachments", "portal_comments"):
        assert rows(after, f"SELECT count(*) FROM [{table}]") == rows(before, f"SELECT count(*) FROM [{table}]")


def test_without_refresh_v2_reads_the_threads_whose_list_row_changed_and_only_those(crawls):
    db, requests, _ = crawls["v2"]
    # v2's lists show the new reply (tid 17), and more than CHANGES.json says they do: a 点评
    # raises the reply count shown (tid 6: 20 -> 21, tid 9), a vote moves the last post time
    # (tid 8, 13). A new 点评 on tid 1, the ratings (tid 2, 4), the downloads (tid 10) and the
    # edit (tid 14) show on their thread pages only: refresh= sees them.
    assert [path for path in requests if path.startswith("/thread-")] == [
        f"/thread-{tid}-1-1.html" for tid in (13, 17, 6, 8, 9)
    ]
    new_on_tid_1 = next(c["comment"] for c in changes() if c["kind"] == "new_comment" and c["tid"] == 1)
    assert rows(db, "SELECT count(*) FROM post_comments WHERE content_text = ?", new_on_tid_1) == [(0,)]


def test_refresh_all_on_v2_adds_exactly_what_changed(crawls):
    check_refresh(crawls["v2-refresh"][0], crawls["v1-again"][0])  # v2's two runs together add exactly the changes
    check_everything(crawls["v2-refresh"][0], "v2")


@pytest.mark.parametrize("status, body", [(500, b"<html><body>Internal Server Error</body></html>"), (200, b"")])
def test_a_failed_commentmore_page_is_recorded_the_post_stays_and_the_next_run_asks_again(
    tmp_path, scrapy_crawl, status, body
):
    broken = "forum.php?mod=misc&action=commentmore&tid=6&pid=57&page=2&inajax=1&ajaxtarget=comment_57"
    failing = tmp_path / "failing.html"
    failing.write_bytes(body)
    db_path = tmp_path / "archive.db"
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"]) as forum:
        thread = forum.base_url + "thread-6-1-1.html"
        kept = forum._snapshot.pages[url_key(broken)]
        forum._snapshot.pages[url_key(broken)] = Page(status, "text/xml; charset=utf-8", "", failing)
        scrapy_crawl(db_path, f"url={thread}", settings=OWNER)
        db = Database(db_path)
        (kind, asked_as, tid), = rows(db, "SELECT kind, asked_as, tid FROM pages WHERE url LIKE '%page=2%'")
        assert (asked_as, tid) == ("commentmore", 6) and kind in ("error", "empty")
        assert "page=3" not in " ".join(forum.requests)  # its pager is unknown: the read stops there
        assert rows(db, "SELECT count(*) FROM comments WHERE pid = 57") == [(1,)]
        assert rows(db, "SELECT count(*) FROM post_comments WHERE pid = 57") == [(5,)]
        forum._snapshot.pages[url_key(broken)] = kept
        forum.clear_requests()
        scrapy_crawl(db_path, f"url={thread}", settings=OWNER)
        assert "/" + broken in forum.requests
    assert rows(Database(db_path), "SELECT count(*) FROM pages WHERE error IS NOT NULL") == [(0,)]


def test_through_the_mobile_api_the_same_tables_fill_where_the_api_carries_them(tmp_path, scrapy_crawl):
    db_path = tmp_path / "api.db"
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"]) as forum:
        threads = ",".join(f"{forum.base_url}thread-{tid}-1-1.html" for tid in sorted(visible_tids("v1")))
        scrapy_crawl(db_path, f"url={threads}", "source=api", settings=OWNER)
        # the API shows a post's newest 点评 only: the rest come from the commentmore pages
        assert sorted(path for path in forum.requests if "api/mobile" not in path) == [
            f"/forum.php?mod=misc&action=commentmore&tid=6&pid=57&page={n}&inajax=1&ajaxtarget=comment_57" for n in (2, 3)
        ]
    db = Database(db_path)
    # tid 9's answer is X3.5's HTTP 503 on PHP 8 in this snapshot: recorded, its 点评 missing
    assert rows(db, "SELECT tid, status FROM pages WHERE error IS NOT NULL") == [(9, 503)]
    expected = Counter((c["pid"], c["author"], c["dateline_iso"][:16], c["comment"]) for c in truth("v1")["comments"] if c["tid"] != 9)
    assert Counter(rows(db, "SELECT pid, author, substr(posted_at, 1, 16), content_text FROM post_comments")) == expected
    for poll in truth("v1")["polls"]:
        options = rows(db, "SELECT text, votes FROM poll_options WHERE tid = ? ORDER BY option_no", poll["tid"])
        assert options == [(option["polloption"], option["votes"]) for option in poll["options"]]
    # no ratings or tags in the API; attachments it lists are the pages' (not images placed in the text)
    assert rows(db, "SELECT count(*) FROM ratings") == rows(db, "SELECT count(*) FROM thread_tags") == [(0,)]
    truth_attachments = {(a["aid"], a["pid"], a["filename"]) for a in truth("v1")["attachments"]}
    assert set(rows(db, "SELECT aid, pid, filename FROM attachments")) <= truth_attachments


@pytest.mark.parametrize(
    "options", [{"charset": "gbk"}, {"dynamic": True}, {"charset": "gbk", "dynamic": True}], ids=["gbk", "dynamic", "gbk-dynamic"]
)
def test_the_same_forum_served_otherwise_archives_the_same(crawls, tmp_path, scrapy_crawl, options):
    db_path = tmp_path / "other.db"
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"], **options) as forum:
        scrapy_crawl(db_path, f"url={forum.base_url}forum.php", settings=OWNER)
    db = Database(db_path)
    assert contents(db) == contents(crawls["v1"][0])
    assert rows(db, "SELECT count(*) FROM pages WHERE asked_as = 'profile'") == [(0,)]  # not without user_profiles=1
    if "charset" in options:  # read as GB18030, the superset of GBK
        assert rows(db, "SELECT DISTINCT charset FROM pages WHERE status = 200") == [("gb18030",)]
    if "dynamic" in options:
        assert rows(db, "SELECT count(*) FROM pages WHERE url LIKE '%thread-%' OR url LIKE '%forum-%'") == [(0,)]


def test_where_robots_txt_forbids_the_comment_and_ratings_pages_they_are_recorded_as_such(tmp_path, scrapy_crawl):
    """Discuz's stock robots.txt forbids ?mod=misc: obeyed (the default), a post keeps the 点评
    and raters its page shows, and the pages it could not read say why."""
    db_path = tmp_path / "archive.db"
    with serve(V1["version"], 0, saved_at=SAVED_AT, fallback=V1["fallback"]) as forum:
        result = scrapy_crawl(db_path, f"url={forum.base_url}thread-6-1-1.html,{forum.base_url}thread-1-1-1.html")
        assert not [path for path in forum.requests if "mod=misc" in path]
    # said once, at the end, with the way out (not a warning a page: a forum has dozens)
    warnings = [line for line in result.stderr.splitlines() if "WARNING:" in line]
    [said] = [line for line in warnings if "robots.txt forbids" in line]
    assert "2 pages not read (1 commentmore, 1 viewratings)" in said and "ROBOTSTXT_OBEY=False" in said
    db = Database(db_path)
    assert rows(db, "SELECT asked_as, kind, tid FROM pages WHERE error IS NOT NULL ORDER BY tid") == [
        ("viewratings", "robots", 1), ("commentmore", "robots", 6)
    ]
    assert rows(db, "SELECT count(*) FROM post_comments WHERE pid = 57") == [(5,)]
    assert rows(db, "SELECT count(DISTINCT rater_uid) FROM ratings WHERE pid = 1") == [(5,)]  # the latest 5 raters
