"""Listing profiles: where each piece of a forum's thread list lives, one table per markup
generation, and the user's own for modified themes (``[[listing]]`` in the profiles file,
docs/profiles.md).

Forum lists are read with ``generic``, which knows every generation's selectors, most
specific first, so that a page which mixes them (a theme that changed one template) still
reads; thread rows are found by what the markup means (an element ided with its tid, else
the row around each link to a thread). The per-generation tables say which selector is
whose, and are what a user's profile extends. A user's profile that fits the page (by its
``sites`` or ``detect``) replaces the fields it sets; the others are its base's. Pure:
strings in, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from scraper.navigation import BREADCRUMB, PAGER
from scraper.profiles import PageProfile
from scraper.xpath import has_class

# The fields a listing profile may set. Document-wide selectors start at the page; per-row
# ones at the thread row (".//…", "self::…").
LISTING_FIELDS = {
    "detect": "the page is of this markup when this matches (document)",
    "rows": "each thread row; its tid is in its id (normalthread_TID) or its link to the thread (document)",
    "thread_list": "the element holding the thread list, whose links to threads make the rows (document)",
    "title": "the thread's title, a link or the element inside it (per row)",
    "author": "the cell naming the thread's author (per row)",
    "last_post": "the cell with the last post's time and poster (per row)",
    "replies": "the element holding the reply count (per row, paired with views by position)",
    "views": "the element holding the view count (per row)",
    "sticky": "finds something in a pinned thread's row (per row)",
    "digest": "finds something in a digest thread's row (per row)",
    "forum_name": "the element whose words are the forum's name (document)",
    "subforums": "the blocks listing the forum's sub-forums (document)",
    "pager": "the forum's page links, their container (document)",
    "breadcrumb": "breadcrumb links; the last to a forum gives the forum (document)",
}
LISTING_DOCUMENT_FIELDS = ("detect", "rows", "thread_list", "forum_name", "subforums", "pager", "breadcrumb")


@dataclass(frozen=True)
class ListingProfile(PageProfile):
    """A forum list's selectors (LISTING_FIELDS); of ``sticky`` and ``digest`` any that finds
    something marks the row."""

    rows: tuple[str, ...] = ()
    thread_list: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    last_post: tuple[str, ...] = ()
    replies: tuple[str, ...] = ()
    views: tuple[str, ...] = ()
    sticky: tuple[str, ...] = ()
    digest: tuple[str, ...] = ()
    forum_name: tuple[str, ...] = ()
    subforums: tuple[str, ...] = ()
    pager: tuple[str, ...] = ()
    breadcrumb: tuple[str, ...] = ()


X3 = ListingProfile(
    name="x3",  # Discuz! X2.0 to X3.5, forum.php?mod=forumdisplay: tbody#normalthread_TID rows
    thread_list=("//*[@id='threadlisttableid']", "//*[@id='threadlist']", "//table[starts-with(@summary, 'forum_')]"),
    title=(f".//a[{has_class('xst')}]",),
    # The guide's rows put the thread's forum in a td.by of its own before the author's.
    author=(f"(.//td[{has_class('by')}][cite])[1]", f"(.//td[{has_class('by')}])[1]"),
    # The cell that links the last post, else the last td.by but the first (the author's):
    # a theme may keep either column alone.
    last_post=(f"(.//td[{has_class('by')}][.//a[contains(@href, 'goto=lastpost')]])[last()]",
               f"(.//td[{has_class('by')}])[position() > 1][last()]"),
    replies=(f".//td[{has_class('num')}]/a",),
    views=(f".//td[{has_class('num')}]/em",),
)
D7 = ListingProfile(
    name="d7",  # Discuz! 7.x, forumdisplay.php: the same row ids, other cells
    thread_list=("//table[starts-with(@summary, 'forum_')]",),
    title=(f".//*[{has_class('tsubject')}]//a | .//span[starts-with(@id, 'thread_')]/a",),
    author=(f".//td[{has_class('author')}]",),
    last_post=(f".//td[{has_class('lastpost')}]",),
    replies=(f".//td[{has_class('nums')}]/strong",),
    views=(f".//td[{has_class('nums')}]/em",),
)
TOUCH = ListingProfile(
    name="touch",  # the X3 touch (mobile) template: li rows without ids, counts by icon
    thread_list=(f"//*[{has_class('threadlist')}]",),
    title=(f".//*[{has_class('threadlist_tit')}]//em", ".//a[@href]/em"),  # the second: pinned li.list_top > a > em
    author=(f".//*[{has_class('muser')}]",),
    replies=(".//li[i[contains(@class, 'chat')]]",),
    views=(".//li[i[contains(@class, 'eye')]]",),
    sticky=(f"self::*[{has_class('list_top')}] | .//*[{has_class('micon')}][{has_class('top')}]",),
    forum_name=(f"//div[{has_class('header')}]/h2",),
)
# Every generation's selectors at once, most specific first: what forum lists are read with.
GENERIC = ListingProfile(
    name="generic",
    thread_list=(*X3.thread_list[:2], *TOUCH.thread_list, *D7.thread_list),
    title=(*X3.title, *D7.title, *TOUCH.title),
    author=(*X3.author, *D7.author, *TOUCH.author),
    last_post=(*X3.last_post, *D7.last_post),
    replies=(*X3.replies, *D7.replies, *TOUCH.replies),
    views=(*X3.views, *D7.views, *TOUCH.views),
    sticky=(
        f"{TOUCH.sticky[0]} | .//img[contains(@src, 'pin_') or contains(@alt, '置顶') or contains(@alt, '置頂')]",
    ),
    digest=(
        ".//img[contains(@src, 'digest') or @alt = 'digest' or contains(@alt, '精华') or contains(@alt, '精華')"
        " or contains(@title, '精华') or contains(@title, '精華')]"
        " | .//*[contains(@class, 'digest')]",  # X3.5 span.tbox.tdigest, touch span.micon.digest
    ),
    forum_name=(*TOUCH.forum_name, f"//div[{has_class('forumdisplay-top')}]/h2"),
    subforums=("//*[starts-with(@id, 'subforum') or starts-with(@id, 'sub-forum')]",),
    pager=PAGER,
    breadcrumb=BREADCRUMB,
)
BUILT_IN = (X3, D7, TOUCH, GENERIC)


def choose(root: etree._Element, site: str, own: tuple = ()) -> ListingProfile:
    """The user's first listing profile that fits the page, else generic. ``own`` may hold
    thread profiles too (one profiles file holds both): they are passed over."""
    for profile in own:
        if isinstance(profile, ListingProfile) and profile.fits(root, site):
            return profile
    return GENERIC


def selectors(profile: ListingProfile, field: str) -> tuple[str, ...]:
    """The profile's selectors for ``field``; generic's where it sets none."""
    return getattr(profile, field) or getattr(GENERIC, field)
