"""Plain data for what a Discuz thread shows besides its posts (点评, ratings, a poll, tags,
the thread's type and special kind, attachments), for portal articles and their comments,
and for user profile pages. The parsers in scraper.post_extras, scraper.thread_extras,
scraper.portal, scraper.user_pages and scraper.api_extras fill them; like scraper.models
they double as Scrapy items.

Times are ISO 8601 with the site's UTC offset, as for posts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PostComment:
    """One 点评 on a post. ``key`` is the same whichever source read it (the page, the
    commentmore answer, the mobile API), so a comment read twice is one row; ``id`` is
    Discuz's id where the source carries it (the mobile API), else ``key``."""

    site: str
    id: str
    key: str
    pid: int
    tid: int
    author: str | None = None
    author_uid: int | None = None
    posted_at: str | None = None  # minute precision: Discuz prints no seconds here
    content_text: str = ""


@dataclass
class Rating:
    """One (rater, credit) of a post's 评分: a rater who gave 威望 and 金钱 is two."""

    site: str
    pid: int
    tid: int
    rater: str | None
    rater_uid: int | None
    credit: str  # the credit's name as shown: 威望, 金钱, 贡献 …
    score: int  # signed
    reason: str = ""
    rated_at: str | None = None  # the viewratings list shows it; the thread page does not


@dataclass
class PollOption:
    option_no: int  # the number the page shows (1, 2, …), the option's place in the poll
    text: str
    votes: int | None = None  # None where guests may not see the results


@dataclass
class Poll:
    site: str
    tid: int
    multiple: bool
    max_choices: int | None = None
    voters: int | None = None
    expires_at: str | None = None  # None: no end date shown (or the poll has none)
    ended: bool = False
    results_visible: bool = True
    options: list[PollOption] = field(default_factory=list)


@dataclass
class Attachment:
    """One attachment of a post, keyed on its aid (the links change on every view)."""

    site: str
    aid: int
    pid: int
    tid: int
    filename: str | None = None
    size: int | None = None  # bytes, from what the page shows ("12.5 KB": rounded as shown)
    size_shown: str | None = None  # "23.87 KB", as the page says it
    downloads: int | None = None
    is_image: bool = False
    price: int | None = None  # in the credit named by price_credit; None when free
    price_credit: str | None = None
    denied: str | None = None  # what the visitor is told instead of a download link
    url: str | None = None  # the download link as seen (forum.php?mod=attachment&aid=…)
    image_url: str | None = None  # data/attachment/forum/… for images
    uploaded_at: str | None = None


@dataclass
class ThreadExtras:
    """What one thread page shows besides its posts."""

    url: str
    site: str
    tid: int
    page: int
    type_id: int | None = None
    type_name: str | None = None
    special: str | None = None  # poll, trade, reward, activity, debate; None for a plain thread
    tags: list[str] = field(default_factory=list)
    poll: Poll | None = None
    comments: list[PostComment] = field(default_factory=list)
    # pid -> the commentmore page to read next, for posts that show only their newest 点评
    comments_more: dict[int, str] = field(default_factory=dict)
    ratings: list[Rating] = field(default_factory=list)
    # pid -> the viewratings page, for posts whose rating table shows only the latest raters
    ratings_more: dict[int, str] = field(default_factory=dict)
    attachments: list[Attachment] = field(default_factory=list)


@dataclass
class CommentPage:
    """One answer of forum.php?mod=misc&action=commentmore (page N of a post's 点评)."""

    url: str
    site: str
    tid: int
    pid: int
    page: int
    page_count: int
    comments: list[PostComment] = field(default_factory=list)
    next_url: str | None = None


@dataclass
class RatingsPage:
    """forum.php?mod=misc&action=viewratings: every rating of one post, with its time."""

    url: str
    site: str
    tid: int
    pid: int
    ratings: list[Rating] = field(default_factory=list)


@dataclass
class PortalComment:
    site: str
    cid: int
    aid: int
    author: str | None = None
    author_uid: int | None = None
    posted_at: str | None = None
    content_text: str = ""


@dataclass
class PortalArticlePage:
    """One page of a portal article (portal.php?mod=view&aid=N&page=P)."""

    url: str
    site: str
    aid: int
    page: int
    page_count: int
    title: str | None = None
    author: str | None = None  # the writer (原作者) where shown, else the publisher
    author_uid: int | None = None  # the publisher's uid (the writer has none)
    publisher: str | None = None  # 发布者, the member who published it
    posted_at: str | None = None
    category: str | None = None
    category_id: int | None = None
    summary: str | None = None
    content_html: str = ""
    content_text: str = ""
    views: int | None = None
    comments_count: int | None = None
    comments: list[PortalComment] = field(default_factory=list)  # the latest, as the page shows them
    comments_url: str | None = None  # the article's full comment list
    page_urls: dict[int, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)  # the images its text shows, lazy-loaded ones by their real source


@dataclass
class PortalArticle:
    """A whole portal article: its pages joined (see scraper.portal.join_article_pages)."""

    site: str
    aid: int
    title: str | None = None
    author: str | None = None
    author_uid: int | None = None
    publisher: str | None = None
    posted_at: str | None = None
    category: str | None = None
    summary: str | None = None
    content_text: str = ""
    content_html: str = ""
    views: int | None = None
    comments: int | None = None
    page_count: int = 1


@dataclass
class PortalCommentPage:
    """portal.php?mod=comment&id=AID&idtype=aid: an article's comments, one page."""

    url: str
    site: str
    aid: int
    page: int
    page_count: int
    comments: list[PortalComment] = field(default_factory=list)
    page_urls: dict[int, str] = field(default_factory=dict)


@dataclass
class PortalListPage:
    """The portal index or a category list: article links, other categories, the pager."""

    url: str
    site: str
    catid: int | None
    page: int
    page_count: int
    name: str | None = None
    article_urls: dict[int, str] = field(default_factory=dict)  # aid -> first page URL
    category_urls: dict[int, str] = field(default_factory=dict)  # catid -> list URL
    page_urls: dict[int, str] = field(default_factory=dict)


@dataclass
class UserProfile:
    """A member's profile page (home.php?mod=space&uid=N&do=profile)."""

    site: str
    uid: int
    username: str | None = None
    group: str | None = None
    registered_at: str | None = None
    last_visit_at: str | None = None
    posts: int | None = None
    threads: int | None = None
    credits: int | None = None
    extcredits: dict[str, int] = field(default_factory=dict)  # 威望, 金钱 … as the page names them
