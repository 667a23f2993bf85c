"""Selector profiles: where each piece of a thread page lives, one profile per markup
generation, and the user's own for modified themes.

A profile names XPath selectors per field. The thread parser takes the first profile that
fits the page (bound to the page's site, else whose ``detect`` matches) and tries its
selectors for each field in order; a field it leaves unset gets the generic selectors, which
know every generation's markup, and posts its selectors miss are found by what the markup
means (pid-ided containers holding a message), so a theme that moved one thing still reads.
Users add or override profiles in a TOML file (the format is in ``docs/profiles.md``;
scraper.profiles_file reads it). Pure: strings in, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from scraper.navigation import BREADCRUMB, PAGER
from scraper.xpath import compiled, has_class

# The fields a profile may set. Document-wide selectors start at the page ("//…", "id('…')");
# per-post ones at the post element (".//…") or at an id that holds ``$pid``, the post's id.
# The built-in ones search with descendant:: (scraper.xpath says why).
FIELDS = {
    "detect": "the page is of this markup when this matches (document)",
    "posts": "each post's outermost element; the pid is the first number in its id (document)",
    "message": "the post's message (per post)",
    "author": "links to the author; the first with words is the name, its href gives the uid (per post)",
    "time": "elements that hold the post's time, or a span whose title holds it (per post)",
    "floor": "the element whose words are the floor: '12#', '沙发' (per post)",
    "title": "the element whose words are the thread's title (document)",
    "views_replies": "elements holding the view count then the reply count (document)",
    "pager": "the thread's page links, their container (document)",
    "breadcrumb": "breadcrumb links; the last to a forum gives the forum (document)",
}
DOCUMENT_FIELDS = ("detect", "posts", "title", "views_replies", "pager", "breadcrumb")


@dataclass(frozen=True)
class PageProfile:
    """Selectors for one markup, each field a tuple of XPaths tried in order, and where they
    apply: the pages of ``sites``, else the pages ``detect`` matches. Only strings, so a
    profile pickles (the off-core reader gets it) and compiles once per process."""

    name: str
    detect: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()  # hosts this profile is used for, whatever their pages look like

    def fits(self, root: etree._Element, site: str) -> bool:
        if self.sites:
            return site in self.sites
        return any(compiled(expression)(root) for expression in self.detect)


@dataclass(frozen=True)
class Profile(PageProfile):
    """A thread page's selectors (FIELDS)."""

    posts: tuple[str, ...] = ()
    message: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    time: tuple[str, ...] = ()
    floor: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    views_replies: tuple[str, ...] = ()
    pager: tuple[str, ...] = ()
    breadcrumb: tuple[str, ...] = ()


_POST_MESSAGE = "descendant::*[@id=concat('postmessage_', $pid)]"
# A post container holds its message, or the notice that replaces it: Discuz 6 and 7 draw a
# banned post with no message element at all, the notice ("该帖被管理员或版主屏蔽", "作者被禁止或删除
# 内容自动屏蔽", a reply only its author may see: "此帖仅作者可见") beside the post's author link,
# floor and time. (Not any pid-ided element: a
# theme that renamed the message must say no_posts, not archive its posts empty.)
NOTICE_WORDS = ("contains(., '屏蔽') or contains(., '作者可见') or contains(., '作者可見')"
                " or contains(., 'banned') or contains(., 'blocked')")
BANNED_POST = f"(descendant::text()[{NOTICE_WORDS}] and descendant::a[contains(@href, 'uid')])"
HOLDS_MESSAGE = (
    f"[descendant::*[starts-with(@id, 'postmessage_')] or descendant::*[{has_class('locked')}]"
    f" or descendant::*[{has_class('t_f')}] or descendant::*[{has_class('t_msgfont')}]"
    f" or descendant::*[{has_class('message')}]"
    f" or {BANNED_POST}]"
)
_PID_ONLY = "translate(substring-after(@id, '{prefix}'), '0123456789', '') = '' and @id != '{prefix}'"
# The built-in profiles reach what Discuz ids through id(), a lookup, and anchor the rest
# below it: a "//" search walks the whole page, where id() is a lookup.
_X_POST = "id('postlist')/div[starts-with(@id, 'post_')]"
X3 = Profile(
    name="x3",  # Discuz! X2.0 to X3.5, the desktop template (X2's title is an a#thread_subject)
    detect=(f"boolean({_X_POST})",),
    # A post holds its message (postmessage_PID), or the notice that replaces it.
    posts=(f"{_X_POST}[{_PID_ONLY.format(prefix='post_')}]"
           f"[id(concat('postmessage_', substring-after(@id, 'post_'))) or descendant::div[{has_class('locked')}]"
           f" or {BANNED_POST}]",),
    message=("id(concat('postmessage_', $pid))",),
    author=(f"id(concat('favatar', $pid))/div[{has_class('pi')}]/div[{has_class('authi')}]/a",
            f"descendant::div[{has_class('authi')}]//a[contains(@href, 'uid')]"),
    time=("id(concat('authorposton', $pid))",),
    floor=("id(concat('postnum', $pid))",),
    title=("id('thread_subject')",),
    views_replies=(f"id('postlist')/table[1]//td[{has_class('pls')}]/div[{has_class('hm')}]/span[{has_class('xi1')}]",),
    pager=(f"id('pgt')//div[{has_class('pg')}]",),
    breadcrumb=("id('pt')//a",),
)
_FIRST_MESSAGE = f"id(concat('postmessage_', substring-after({_X_POST}[1]/@id, 'post_')))"
D7 = Profile(
    name="d7",  # Discuz! 7.x (templates/default/viewthread_node.htm): X3's ids, other classes
    # The first post's message, else (the first post banned: no message) the first message.
    detect=(f"boolean({_FIRST_MESSAGE}[{has_class('t_msgfont')}])"
            f" or not({_FIRST_MESSAGE})"
            f" and boolean(({_X_POST}//*[starts-with(@id, 'postmessage_')])[1][{has_class('t_msgfont')}])",),
    posts=X3.posts,
    message=X3.message,
    author=(f"descendant::a[{has_class('posterlink')}]",),
    time=X3.time,
    floor=X3.floor,
    title=("id('threadtitle')/h1",),
    pager=(f"//div[{has_class('pages')}]",),
    breadcrumb=("id('nav')//a",),
)
_TOUCH_POST = f"/html/body/div[{has_class('viewthread')}]/div[starts-with(@id, 'pid')][{has_class('plc')}]"
TOUCH = Profile(
    name="touch",  # the X3 touch (mobile) template, mobile=2
    detect=(f"boolean({_TOUCH_POST})",),
    posts=(f"{_TOUCH_POST}[{_PID_ONLY.format(prefix='pid')}]",),
    message=(f"descendant::div[{has_class('message')}]",),
    author=(f"descendant::li[{has_class('mtit')}]//a",),
    time=(f"descendant::li[{has_class('mtime')}]",),
    floor=(f"descendant::li[{has_class('mtit')}]/span[{has_class('y')}]",),
    title=(f"/html/body/div[{has_class('viewthread')}]/div[{has_class('view_tit')}]",),
    pager=(f"/html/body/div[{has_class('pg')}]",),
    breadcrumb=(f"/html/body/div[{has_class('header')}]/h2//a",),
)
# For pages no profile fits, and for the fields a profile leaves unset: every generation's
# selectors at once, most specific first. Posts are then found by meaning (thread._post_roots),
# as they are when a profile's posts selectors find none.
GENERIC = Profile(
    name="generic",
    message=(_POST_MESSAGE, "descendant::*[@id=concat('message', $pid)]", f"descendant::div[{has_class('message')}]",
             f"descendant::*[{has_class('t_f')}]", f"descendant::*[{has_class('t_msgfont')}]"),
    author=(f"descendant::div[{has_class('authi')}]//a[{has_class('xw1')}]", *TOUCH.author, *D7.author, X3.author[1],
            f"descendant::*[{has_class('postauthor')}]//a[contains(@href, 'uid')]"),
    time=("descendant::*[starts-with(@id, 'authorposton')]", *TOUCH.time,
          f"descendant::div[{has_class('authorinfo')}]/em"),
    floor=("descendant::*[starts-with(@id, 'postnum')]", *TOUCH.floor, f"descendant::*[{has_class('t_number')}]"),
    title=("//*[@id='thread_subject']", "//div[@id='threadtitle']/h1", f"//div[{has_class('view_tit')}]", "//h1"),
    views_replies=(f"//div[@id='postlist']//td[{has_class('pls')}]//div[{has_class('hm')}]//span[{has_class('xi1')}]",
                   "//div[@id='threadstamp']/following::div[1]//em"),
    pager=PAGER,
    breadcrumb=BREADCRUMB,
)
BUILT_IN = (D7, X3, TOUCH)  # the cheap id() tests first


def choose(root: etree._Element, site: str, own: tuple = ()) -> Profile:
    """The profile for this page: the user's own first, then the built-in ones; else generic.
    ``own`` may hold listing profiles too (one profiles file holds both): they are passed over."""
    for profile in own + BUILT_IN:
        if isinstance(profile, Profile) and profile.fits(root, site):
            return profile
    return GENERIC


def selectors(profile: Profile, field: str) -> tuple[str, ...]:
    """The profile's selectors for ``field``; the generic ones where it sets none. (Not both: a
    field a page lacks, the pager of a one-page thread, would cost every generic search.)"""
    return getattr(profile, field) or getattr(GENERIC, field)
