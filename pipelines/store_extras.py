"""The archive's writes of what a Discuz thread shows besides its posts (点评, ratings, a poll,
tags, attachments), of portal articles and their comments, and of members' profile pages.

pipelines.store calls these inside its transaction. Every row is keyed on what identifies it
on the site, so a page written twice changes nothing but ``last_seen_at``. Nothing is deleted:
a row that a complete read no longer shows gets ``gone_since``, and loses it when it shows
again. What counts as complete differs by source:

- a thread page's 点评 block is every 点评 of its post unless the post has a commentmore pager;
  then only ``CommentsRead`` (the spider's word that the block and every commentmore page were
  read) is, and the commentmore pages alone never are;
- a rating table is every rating of its post unless it shows fewer raters than took part;
  then the post's viewratings list is. The mobile API carries no ratings and no tags, so its
  answers never mark them gone;
- a post's attachments as the thread page shows them (the mobile API leaves out some of
  them: images placed in the text), page 1's tags and poll options;
- a portal comment list that has one page (a longer list is only added to).

A 点评's key holds its time, and two pages may show one 点评's time differently (a page cached
before an edit, a relative time on one and an absolute one on the other): a 点评 that one
source shows under another key than the stored row with its post, author and text is that
row (``_twin``). The full list (commentmore) gives the row its key and time; a thread page adds
nothing and counts as showing it.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlite_utils import Database

from pipelines.schema import primary_key
from pipelines.sql import get, insert, put, update, without_none
from scraper.extras_models import (
    Attachment,
    CommentPage,
    PortalArticlePage,
    PortalComment,
    PortalCommentPage,
    PostComment,
    Rating,
    RatingsPage,
    ThreadExtras,
    UserProfile,
)
from scraper.kinds import PageKind
from scraper.models import CommentsRead, FetchedPage, ThreadPage
from scraper.user_pages import profile_uid

# What a profile page that guests may not see is recorded as (users.profile_status), so that
# it is not asked again; a page that failed otherwise is asked again next time.
PROFILE_STATUS = {PageKind.LOGIN: "members_only", PageKind.MISSING: "missing"}
# A rating's key within its post, as SQL and as _rating_keys gives it.
RATING_KEY = "rater_key || '|' || credit"


def thread_columns(thread: ThreadPage) -> dict[str, Any]:
    """The articles columns page 1's extras give: the type (分类) and the special kind. None
    means not shown (the mobile API names no type), so the stored value stays."""
    extras = thread.extras
    if extras is None or thread.page != 1:
        return {}
    return without_none({"type_id": extras.type_id, "type_name": extras.type_name, "special": extras.special})


def save_thread_extras(db: Database, page: FetchedPage, stamp: str, counts: Counter[str]) -> None:
    """A thread page's extras. A page cut short (kind broken) adds what it shows and marks
    nothing gone: its end is missing."""
    thread = page.thread
    extras = thread.extras if thread else None
    if extras is None:
        return
    whole = page.kind in (PageKind.THREAD, PageKind.API_THREAD)
    html = page.asked_as == PageKind.THREAD
    pids = [post.pid for post in thread.posts]
    shown = _save_comments(db, extras.comments, stamp, counts, full_list=False)
    _save_ratings(db, extras.ratings, stamp, counts)
    _save_attachments(db, extras.attachments, stamp, counts)
    if not whole:
        pids = []
    # The posts that show none of a table's rows (most posts): one statement for all of them.
    none_shown: dict[tuple[str, str], list[int]] = {
        ("post_comments", "key"): [], ("ratings", RATING_KEY): [], ("attachments", "aid"): [],
    }
    for pid in pids:
        tables: list[tuple[tuple[str, str], list[Any]]] = []  # (table, key), the keys the page shows
        if pid not in extras.comments_more:
            tables.append((("post_comments", "key"), [shown[key] for key in _keys_of(extras.comments, pid)]))
        if html and pid not in extras.ratings_more:
            tables.append((("ratings", RATING_KEY), _rating_keys(extras.ratings, pid)))
        if html:
            aids = [attachment.aid for attachment in extras.attachments if attachment.pid == pid]
            tables.append((("attachments", "aid"), aids))
        for (table, key), keys in tables:
            if keys:
                _mark_gone(db, table, key, stamp, extras.site, pid, keys)
            else:
                none_shown[table, key].append(pid)
    for (table, _), parents in none_shown.items():
        _mark_all_gone(db, table, stamp, extras.site, parents)
    if thread.article is not None:  # page 1: the first post holds the poll and the tags
        if extras.poll is not None:
            _save_poll(db, extras, stamp, counts, mark_gone=whole)
        if html:
            _save_tags(db, extras, stamp, counts, mark_gone=whole)


def save_comment_page(db: Database, comments: CommentPage, stamp: str, counts: Counter[str]) -> None:
    """One commentmore answer: its 点评 are added; only CommentsRead tells what vanished."""
    _save_comments(db, comments.comments, stamp, counts, full_list=True)


def save_comments_read(db: Database, read: CommentsRead, stamp: str) -> None:
    """Every 点评 of a post was read: the post's others have disappeared. (The keys the thread
    page gave a 点评 the full list keys otherwise are among them: the stored row has the list's.)
    ``stamp`` is when the read began: a row seen since then was shown by it under another key
    (the block's 点评 that an earlier thread page, cached before an edit, showed at another
    time: its twin stands for it), and stays."""
    _mark_gone(db, "post_comments", "key", stamp, read.site, read.pid, read.keys, unseen_since=stamp)


def save_ratings_page(db: Database, ratings: RatingsPage, stamp: str, counts: Counter[str]) -> None:
    """A post's viewratings list: all its ratings, with their times; it replaces the rows the
    thread page gave (those it no longer lists get gone_since)."""
    _save_ratings(db, ratings.ratings, stamp, counts)
    _mark_gone(db, "ratings", RATING_KEY, stamp, ratings.site, ratings.pid, _rating_keys(ratings.ratings, ratings.pid))


def save_portal_article_page(db: Database, article: PortalArticlePage, stamp: str, counts: Counter[str]) -> None:
    """One page of a portal article: its text goes to portal_article_pages, and the article's
    row holds the pages read so far joined in page order (scraper.portal.join_article_pages'
    order), whatever order they came in."""
    site, aid = article.site, article.aid
    page_row = {"site": site, "aid": aid, "page": article.page, "content_text": article.content_text,
                "content_html": article.content_html, "images": article.images or None, "last_seen_at": stamp}
    put(db, "portal_article_pages", page_row, stamp)
    row = without_none({
        "site": site, "aid": aid, "title": article.title, "author": article.author, "author_uid": article.author_uid,
        "publisher": article.publisher, "posted_at": article.posted_at, "category": article.category,
        "summary": article.summary, "views": article.views, "comments": article.comments_count,
        "page_count": article.page_count,
    })
    texts = list(db.execute(
        "SELECT content_text, content_html FROM portal_article_pages WHERE site = ? AND aid = ? AND page <= ?"
        " ORDER BY page", [site, aid, article.page_count],
    ))
    row["content_text"] = "\n\n".join(text for text, _ in texts if text)
    row["content_html"] = "\n".join(html for _, html in texts if html)
    row["last_seen_at"] = stamp
    if put(db, "portal_articles", row, stamp):
        counts["archive/portal_articles"] += 1
    _save_portal_comments(db, article.comments, stamp, counts)


def save_portal_comment_page(db: Database, comments: PortalCommentPage, stamp: str, counts: Counter[str]) -> None:
    _save_portal_comments(db, comments.comments, stamp, counts)
    if comments.page_count == 1:
        _mark_gone(db, "portal_comments", "cid", stamp, comments.site, comments.aid,
                   [comment.cid for comment in comments.comments], parent="aid")


def save_profile(db: Database, page: FetchedPage, stamp: str, counts: Counter[str]) -> None:
    """A profile page: its facts on the member's users row; a page guests may not see is
    recorded as such (users.profile_status)."""
    profile: UserProfile | None = page.user_profile
    if profile is not None:
        row = without_none({
            "site": profile.site, "uid": profile.uid, "username": profile.username, "user_group": profile.group,
            "registered_at": profile.registered_at, "last_visit_at": profile.last_visit_at,
            "posts": profile.posts, "threads": profile.threads, "credits": profile.credits,
            "extcredits": profile.extcredits or None,
        })
        put(db, "users", row | {"profile_status": "shown"}, stamp)
        counts["archive/profiles"] += 1
        return
    status = PROFILE_STATUS.get(page.kind)
    uid = profile_uid(page.url)
    if status and uid is not None:
        put(db, "users", {"site": page.site, "uid": uid, "profile_status": status}, stamp)


# --- the rows ---------------------------------------------------------------------------------


def _save_comments(db: Database, comments: list[PostComment], stamp: str, counts: Counter[str],
                   full_list: bool) -> dict[str, str]:
    """The 点评 one page shows (``full_list``: a commentmore page); returns, for each key the
    page gives, the key of the row that stands for it."""
    rows = [
        {"site": c.site, "key": c.key, "id": c.id, "pid": c.pid, "tid": c.tid, "author": c.author,
         "author_uid": c.author_uid, "posted_at": c.posted_at, "content_text": c.content_text,
         "gone_since": None, "last_seen_at": stamp}
        for c in comments
    ]
    shown = {}  # each key given -> the key of the row that stands for it
    keys = {row["key"] for row in rows}
    for row in rows:
        stored = _stored(db, "post_comments", row)
        if stored is None and (twin := _twin(db, row, keys)) is not None:
            if not full_list:  # the stored row stands for it, with its own key and time
                shown[row["key"]] = twin["key"]
                seen = {"site": row["site"], "key": twin["key"], "gone_since": None, "last_seen_at": stamp}
                update(db, "post_comments", seen)
                continue
            db.execute("UPDATE post_comments SET key = ?, id = CASE WHEN id = key THEN ? ELSE id END WHERE site = ? AND key = ?",
                       [row["key"], row["key"], row["site"], twin["key"]])
            stored = {**twin, "key": row["key"], "id": row["key"] if twin["id"] == twin["key"] else twin["id"]}
        shown[row["key"]] = row["key"]
        if stored and stored["id"] != stored["key"] and row["id"] == row["key"]:
            del row["id"]  # the mobile API's id stays when a page (which shows none) reads it again
        _merge(db, "post_comments", row, stored is not None, stamp, counts)
    return shown


def _twin(db: Database, row: dict[str, Any], keys: set[str]) -> dict[str, Any] | None:
    """The stored 点评 of the same post, author and text under another key that this page does
    not show itself (two equal 点评 on one page are two), present ones first, the earliest."""
    marks = ", ".join("?" for _ in keys)
    found = db.execute(
        "SELECT key, id FROM post_comments WHERE site = ? AND pid = ? AND content_text IS ?"
        f" AND coalesce(author_uid, author) IS coalesce(?, ?) AND key NOT IN ({marks})"
        " ORDER BY gone_since IS NOT NULL, posted_at LIMIT 1",
        [row["site"], row["pid"], row["content_text"], row["author_uid"], row["author"], *keys],
    ).fetchone()
    return {"key": found[0], "id": found[1]} if found else None


def _save_ratings(db: Database, ratings: list[Rating], stamp: str, counts: Counter[str]) -> None:
    for rating in ratings:
        row = {"site": rating.site, "pid": rating.pid, "rater_key": _rater_key(rating), "credit": rating.credit,
               "tid": rating.tid, "rater": rating.rater, "rater_uid": rating.rater_uid, "score": rating.score,
               "reason": rating.reason, "gone_since": None, "last_seen_at": stamp}
        if rating.rated_at is not None:  # a thread page shows no time: the list's stays
            row["rated_at"] = rating.rated_at
        _merge(db, "ratings", row, _stored(db, "ratings", row) is not None, stamp, counts)


def _save_attachments(db: Database, attachments: list[Attachment], stamp: str, counts: Counter[str]) -> None:
    for a in attachments:
        # Where one read shows less (the mobile API: no download count for a paid file), what
        # another read showed stays: None is "not shown" here, not "none".
        row = without_none({
            "site": a.site, "aid": a.aid, "pid": a.pid, "tid": a.tid, "filename": a.filename, "size": a.size,
            "size_shown": a.size_shown, "downloads": a.downloads, "is_image": int(a.is_image), "price": a.price,
            "price_credit": a.price_credit, "denied": a.denied, "url": a.url, "image_url": a.image_url,
            "uploaded_at": a.uploaded_at,
        }) | {"gone_since": None, "last_seen_at": stamp}
        _merge(db, "attachments", row, _stored(db, "attachments", row) is not None, stamp, counts)


def _save_poll(db: Database, extras: ThreadExtras, stamp: str, counts: Counter[str], mark_gone: bool) -> None:
    poll = extras.poll
    row = {"site": poll.site, "tid": poll.tid, "multiple": int(poll.multiple), "max_choices": poll.max_choices,
           "voters": poll.voters, "expires_at": poll.expires_at, "ended": int(poll.ended),
           "results_visible": int(poll.results_visible), "last_seen_at": stamp}
    if put(db, "polls", row, stamp):
        counts["archive/polls"] += 1
    for option in poll.options:
        row = {"site": poll.site, "tid": poll.tid, "option_no": option.option_no, "text": option.text,
               "votes": option.votes, "gone_since": None, "last_seen_at": stamp}
        _merge(db, "poll_options", row, _stored(db, "poll_options", row) is not None, stamp, counts)
    if mark_gone:
        _mark_gone(db, "poll_options", "option_no", stamp, poll.site, poll.tid,
                   [option.option_no for option in poll.options], parent="tid")


def _save_tags(db: Database, extras: ThreadExtras, stamp: str, counts: Counter[str], mark_gone: bool) -> None:
    for tag in dict.fromkeys(extras.tags):
        row = {"site": extras.site, "tid": extras.tid, "tag": tag, "gone_since": None, "last_seen_at": stamp}
        _merge(db, "thread_tags", row, _stored(db, "thread_tags", row) is not None, stamp, counts)
    if mark_gone:
        _mark_gone(db, "thread_tags", "tag", stamp, extras.site, extras.tid, extras.tags, parent="tid")


def _save_portal_comments(db: Database, comments: list[PortalComment], stamp: str, counts: Counter[str]) -> None:
    for c in comments:
        row = {"site": c.site, "cid": c.cid, "aid": c.aid, "author": c.author, "author_uid": c.author_uid,
               "posted_at": c.posted_at, "content_text": c.content_text, "gone_since": None, "last_seen_at": stamp}
        _merge(db, "portal_comments", row, _stored(db, "portal_comments", row) is not None, stamp, counts)


# --- keys, merges and what vanished -----------------------------------------------------------


def _rater_key(rating: Rating) -> str:
    """Who rated: the uid where the page links the rater, else the name as shown."""
    return str(rating.rater_uid) if rating.rater_uid is not None else rating.rater or ""


def _rating_keys(ratings: list[Rating], pid: int) -> list[str]:
    return [f"{_rater_key(rating)}|{rating.credit}" for rating in ratings if rating.pid == pid]


def _keys_of(comments: list[PostComment], pid: int) -> list[str]:
    return [comment.key for comment in comments if comment.pid == pid]


def _stored(db: Database, table: str, row: dict[str, Any]) -> dict[str, Any] | None:
    return get(db, table, tuple(row[column] for column in primary_key(table)))


def _merge(db: Database, table: str, row: dict[str, Any], stored: bool, stamp: str, counts: Counter[str]) -> None:
    """Insert a new row (counted as archive/TABLE), or update the stored one's columns."""
    if stored:
        update(db, table, row)
    else:
        insert(db, table, row | {"first_seen_at": stamp})
        counts[f"archive/{table}"] += 1


def _mark_all_gone(db: Database, table: str, stamp: str, site: str, parent_ids: list[int]) -> None:
    """_mark_gone for posts that show none of the table's rows, in one statement."""
    if parent_ids:
        db.conn.execute(
            f"UPDATE [{table}] SET gone_since = ? WHERE site = ? AND pid IN ({', '.join('?' for _ in parent_ids)})"
            " AND gone_since IS NULL",
            [stamp, site, *parent_ids],
        )


def _mark_gone(db: Database, table: str, key: str, stamp: str, site: str, parent_id: int, shown: list[Any],
               parent: str = "pid", unseen_since: str | None = None) -> None:
    """The rows of one post (or thread, article: ``parent``) whose ``key`` is not among
    ``shown`` (nor, with ``unseen_since``, seen since then) get gone_since, once."""
    marks = ", ".join("?" for _ in shown)
    not_shown = f" AND {key} NOT IN ({marks})" if shown else ""
    unseen = " AND (last_seen_at IS NULL OR last_seen_at < ?)" if unseen_since else ""
    db.conn.execute(
        f"UPDATE [{table}] SET gone_since = ?"
        f" WHERE site = ? AND {parent} = ? AND gone_since IS NULL{not_shown}{unseen}",
        [stamp, site, parent_id, *shown, *([unseen_since] if unseen_since else [])],
    )
