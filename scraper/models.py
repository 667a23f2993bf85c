"""Plain data the parser produces and the pipeline stores.

The dataclasses double as Scrapy items (itemadapter understands dataclasses), so
there is one model and no separate items.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from scraper.extras_models import (
    CommentPage,
    PortalArticlePage,
    PortalCommentPage,
    PortalListPage,
    RatingsPage,
    ThreadExtras,
    UserProfile,
)


@dataclass
class Post:
    """One floor of a thread: the article (floor 1) or a reply."""

    pid: int
    floor: int | None
    author: str | None = None
    author_uid: int | None = None
    posted_at: str | None = None  # ISO 8601 with the site's UTC offset
    content_html: str = ""  # the message only: noise removed, sanitised, links absolute
    content_text: str = ""  # readable text: paragraphs kept, quotes marked "> ", code kept
    edited_by: str | None = None
    edited_at: str | None = None
    quote_pid: int | None = None
    quote_author: str | None = None
    images: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    hidden: bool = False  # part of the post is locked for this visitor (div.locked)
    masked: bool = False  # the author is banned or deleted: Discuz shows a notice instead
    blocked: bool = False  # a moderator blocked this post

    @property
    def flags(self) -> list[str]:
        return [name for name in ("hidden", "masked", "blocked") if getattr(self, name)]


@dataclass
class ThreadPage:
    """One page of a thread as Discuz served it."""

    url: str
    site: str  # host, plus the path when Discuz lives under one: "example.com/bbs"
    tid: int
    page: int
    page_count: int
    title: str | None = None
    fid: int | None = None
    forum_name: str | None = None
    views: int | None = None  # shown on page 1 only
    replies: int | None = None  # shown on page 1 only
    generator: str | None = None  # "Discuz! X3.5" from the generator meta tag
    profile: str | None = None  # the selector profile that read it (scraper.profiles)
    posts: list[Post] = field(default_factory=list)
    page_urls: dict[int, str] = field(default_factory=dict)  # the thread's own pager
    # The page ended before </html>: what was kept of it (only the posts whole before the cut;
    # a page that lost posts is no full page to learn posts per page from).
    cut_short: str | None = None
    # What the page shows besides the posts: 点评, ratings, a poll, tags, type, attachments.
    extras: ThreadExtras | None = None

    @property
    def article(self) -> Post | None:
        """The original post, present only on the page that holds floor 1."""
        first = self.posts[0] if self.posts else None
        if first is not None and first.floor == 1:
            return first
        return None

    @property
    def comments(self) -> list[Post]:
        """Every reply on this page, in floor order."""
        return [post for post in self.posts if post is not self.article]


@dataclass
class ThreadRow:
    """One thread as a forum's thread list shows it: enough to tell whether it changed."""

    tid: int
    title: str
    url: str
    author: str | None = None
    author_uid: int | None = None
    replies: int | None = None
    views: int | None = None
    last_post_at: str | None = None  # ISO 8601 in the site's offset (minute precision)
    last_poster: str | None = None
    sticky: bool = False  # pinned (stickthread_*): out of the activity order
    digest: bool = False
    fid: int | None = None  # the thread's forum, where the list is not one forum's (the guide)
    forum_name: str | None = None


@dataclass
class ForumLink:
    """A forum (or category) a page links to: the way down from the index."""

    fid: int
    name: str
    url: str
    parent_fid: int | None = None  # the forum a sub-forum sits in
    gid: int | None = None  # the category (group) the forum is listed under
    is_category: bool = False


@dataclass
class ForumPage:
    """One page of a forum's thread list (forumdisplay), or of a guide list (mod=guide: threads
    of many forums, ``fid`` None and each row's own)."""

    url: str
    site: str
    fid: int | None
    page: int
    page_count: int
    name: str | None = None
    threads: list[ThreadRow] = field(default_factory=list)
    subforums: list[ForumLink] = field(default_factory=list)
    page_urls: dict[int, str] = field(default_factory=dict)


@dataclass
class IndexPage:
    """The site index (forum.php) or a category page (forum.php?gid=N): forums to walk."""

    url: str
    site: str
    forums: list[ForumLink] = field(default_factory=list)
    generator: str | None = None
    name: str | None = None  # the forum's own name (bbname), from its application-name meta


@dataclass
class FetchedPage:
    """A fetched URL and what became of it; every fetch is recorded, failures too."""

    url: str
    site: str
    kind: str  # a PageKind (scraper.kinds): what was asked, or what the page turned out to be
    status: int
    fetched_at: str  # ISO 8601, UTC
    size: int
    sha256: str
    charset: str | None = None  # the charset the bytes were decoded with
    declared_charset: str | None = None  # what the header or meta claimed, when it differed
    error: str | None = None
    tid: int | None = None  # the thread the URL was asked for (known even when it failed)
    asked_as: str = ""  # a PageKind (thread, forum, index, or their api_ forms): which parser reads it
    content_type: str | None = None
    # the response's headers as JSON [[name, value], ...] (Set-Cookie left out), kept with the
    # raw page so a WARC export replays the page as it was served
    headers: str | None = None
    body: bytes | None = None  # the bytes as fetched, kept only when raw pages are archived
    thread: ThreadPage | None = None
    forum: ForumPage | None = None
    index: IndexPage | None = None
    # The other kinds' pages (scraper.kinds.PageKind.fills says which kind fills which).
    comment_page: CommentPage | None = None
    ratings_page: RatingsPage | None = None
    portal_list: PortalListPage | None = None
    portal_article: PortalArticlePage | None = None
    portal_comments: PortalCommentPage | None = None
    user_profile: UserProfile | None = None


@dataclass
class ThreadSynced:
    """Every page the crawl asked for of one thread is archived: the archive now holds the
    thread as the listing described it, so an unchanged listing row costs no request next time.

    ``complete`` says the pages went from page 1 to the end, so ``pids`` is every post the
    site still shows: the others have disappeared.
    """

    site: str
    tid: int
    replies: int | None
    last_post_at: str | None
    synced_at: str
    complete: bool = False
    pids: list[int] = field(default_factory=list)


@dataclass
class CommentsRead:
    """Every 点评 of one post was read without a problem: the thread page's block and each of
    its commentmore pages. ``keys`` (PostComment.key) is then every 点评 the site still shows
    on the post: the others have disappeared. A read that met a problem sends none."""

    site: str
    tid: int
    pid: int
    keys: list[str]
    read_at: str  # ISO 8601, UTC: when the read began


@dataclass
class ForumWalked:
    """A forum's thread list was walked to its end or to the first unchanged thread; or, with
    ``open_because``, stopped by a limit of the run (max_threads, since): the walk stays open."""

    site: str
    fid: int
    started_at: str
    finished_at: str
    open_because: str | None = None


def kept_headers(headers: Iterable[tuple[bytes, list[bytes]]]) -> str:
    """A response's headers as FetchedPage.headers keeps them: JSON [[name, value], ...] in
    the order received. Set-Cookie is left out: with ``-a cookies`` it would carry the user's
    session into the archive and any WARC made of it."""
    return json.dumps(
        [
            [name.decode("latin-1"), value.decode("latin-1")]
            for name, values in headers
            if name.lower() != b"set-cookie"
            for value in values
        ]
    )
