"""Selector profiles: where each piece of a thread page lives, one profile per markup
generation, and the user's own for modified themes.

A profile names XPath selectors per field. The thread parser takes the first profile that
fits the page (bound to the page's site, else whose ``detect`` matches) and tries its
selectors for each field in order; a field it leaves unset gets the generic selectors, which
know every generation's markup, and posts its selectors miss are found by what the markup
means (pid-ided containers holding a message), so a theme that moved one thing still reads. Users add or override profiles in a TOML file (the format
is in ``docs/profiles.md``; ``profiles_from_toml`` reads it). Pure: strings in, no I/O.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass

from lxml import etree

from scraper import listing_profiles
from scraper.listing_profiles import ListingProfile
from scraper.navigation import BREADCRUMB, PAGER
from scraper.xpath import compiled, has_class

# The fields a profile may set. Document-wide selectors start at the page ("//…", "id('…')");
# per-post ones at the post element (".//…") or at an id that holds ``$pid``, the post's id.
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
class Profile:
    """Selectors for one markup, each field a tuple of XPaths tried in order. Only strings, so
    a profile pickles (the off-core reader gets it) and compiles once per process."""

    name: str
    detect: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()  # hosts this profile is used for, whatever their pages look like
    posts: tuple[str, ...] = ()
    message: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    time: tuple[str, ...] = ()
    floor: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    views_replies: tuple[str, ...] = ()
    pager: tuple[str, ...] = ()
    breadcrumb: tuple[str, ...] = ()

    def fits(self, root: etree._Element, site: str) -> bool:
        if self.sites:
            return site in self.sites
        return any(compiled(expression)(root) for expression in self.detect)


_POST_MESSAGE = ".//*[@id=concat('postmessage_', $pid)]"
# A post container holds its message, or the notice that replaces it (a banned author).
HOLDS_MESSAGE = (
    f"[.//*[starts-with(@id, 'postmessage_')] or .//*[{has_class('locked')}]"
    f" or .//*[{has_class('t_f')}] or .//*[{has_class('t_msgfont')}] or .//*[{has_class('message')}]]"
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
           f"[id(concat('postmessage_', substring-after(@id, 'post_'))) or .//div[{has_class('locked')}]]",),
    message=("id(concat('postmessage_', $pid))",),
    author=(f"id(concat('favatar', $pid))/div[{has_class('pi')}]/div[{has_class('authi')}]/a",
            f".//div[{has_class('authi')}]//a[contains(@href, 'uid')]"),
    time=("id(concat('authorposton', $pid))",),
    floor=("id(concat('postnum', $pid))",),
    title=("id('thread_subject')",),
    views_replies=(f"id('postlist')/table[1]//td[{has_class('pls')}]/div[{has_class('hm')}]/span[{has_class('xi1')}]",),
    pager=(f"id('pgt')//div[{has_class('pg')}]",),
    breadcrumb=("id('pt')//a",),
)
D7 = Profile(
    name="d7",  # Discuz! 7.x (templates/default/viewthread_node.htm): X3's ids, other classes
    detect=(f"boolean(id(concat('postmessage_', substring-after({_X_POST}[1]/@id, 'post_')))"
            f"[{has_class('t_msgfont')}])",),
    posts=X3.posts,
    message=X3.message,
    author=(f".//a[{has_class('posterlink')}]",),
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
    message=(f".//div[{has_class('message')}]",),
    author=(f".//li[{has_class('mtit')}]//a",),
    time=(f".//li[{has_class('mtime')}]",),
    floor=(f".//li[{has_class('mtit')}]/span[{has_class('y')}]",),
    title=(f"/html/body/div[{has_class('viewthread')}]/div[{has_class('view_tit')}]",),
    pager=(f"/html/body/div[{has_class('pg')}]",),
    breadcrumb=(f"/html/body/div[{has_class('header')}]/h2//a",),
)
# For pages no profile fits, and for the fields a profile leaves unset: every generation's
# selectors at once, most specific first. Posts are then found by meaning (thread._post_roots),
# as they are when a profile's posts selectors find none.
GENERIC = Profile(
    name="generic",
    message=(_POST_MESSAGE, ".//*[@id=concat('message', $pid)]", f".//div[{has_class('message')}]",
             f".//*[{has_class('t_f')}]", f".//*[{has_class('t_msgfont')}]"),
    author=(f".//div[{has_class('authi')}]//a[{has_class('xw1')}]", *TOUCH.author, *D7.author, X3.author[1],
            f".//*[{has_class('postauthor')}]//a[contains(@href, 'uid')]"),
    time=(".//*[starts-with(@id, 'authorposton')]", *TOUCH.time, f".//div[{has_class('authorinfo')}]/em"),
    floor=(".//a[starts-with(@id, 'postnum')]", *TOUCH.floor, f".//*[{has_class('t_number')}]"),
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


@dataclass(frozen=True)
class _Table:
    """One kind of table in a profiles file: what its entries become and how they are checked."""

    key: str
    built_in: dict
    fields: dict[str, str]
    document_fields: tuple[str, ...]
    item: str  # what per-item selectors start at: "post", "row"
    starts: tuple[str, ...]  # how a per-item selector may begin


_TABLES = (
    _Table("profile", {p.name: p for p in BUILT_IN + (GENERIC,)}, FIELDS, DOCUMENT_FIELDS, "post", (".", "id(")),
    _Table(
        "listing", {p.name: p for p in listing_profiles.BUILT_IN}, listing_profiles.LISTING_FIELDS,
        listing_profiles.LISTING_DOCUMENT_FIELDS, "row", (".", "self::"),
    ),
)


def profiles_from_toml(text: str) -> tuple[Profile | ListingProfile, ...]:
    """The user's profiles from an override file: thread profiles ([[profile]]) and listing
    profiles ([[listing]]), in the file's order. Raises ValueError naming the profile and
    field of anything wrong, so a bad file stops the crawl before its first request."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"the profiles file is not valid TOML: {error}") from None
    unknown = set(data) - {table.key for table in _TABLES}
    if unknown:
        raise ValueError(
            f"the profiles file has unknown tables {sorted(unknown)}; profiles go in [[profile]], forum lists in [[listing]]"
        )
    profiles = []
    for table in _TABLES:
        entries = data.get(table.key, [])
        if not isinstance(entries, list):
            raise ValueError(f"the profiles file's {table.key} tables go in [[{table.key}]] (two brackets)")
        profiles += [_profile(table, entry, number) for number, entry in enumerate(entries, 1)]
    return tuple(profiles)


def _profile(table: _Table, entry: dict, number: int) -> Profile | ListingProfile:
    name = entry.get("name") or f"{table.key} {number}"
    unknown = set(entry) - set(table.fields) - {"name", "extends", "sites"}
    if unknown:
        raise ValueError(f"{name}: unknown keys {sorted(unknown)}; the fields are {sorted(table.fields)}")
    base_name = entry.get("extends", "generic")
    if base_name not in table.built_in:
        raise ValueError(f"{name}: extends {base_name!r}, which is none of {sorted(table.built_in)}")
    fields = {"name": name, "sites": _strings(name, "sites", entry.get("sites", []))}
    for field in table.fields:
        if field in entry:
            fields[field] = _strings(name, field, entry[field])
            for expression in fields[field]:
                _check(table, name, field, expression)
    if not fields["sites"] and not fields.get("detect"):
        raise ValueError(f"{name}: say where it applies, with sites = [...] or detect = \"...\"")
    return dataclasses.replace(table.built_in[base_name], **fields)


def _strings(name: str, field: str, value) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
        raise ValueError(f"{name}: {field} must be a string or a list of strings")
    return tuple(values)


def _check(table: _Table, name: str, field: str, expression: str) -> None:
    if field not in table.document_fields and not expression.lstrip("(").startswith(table.starts):
        # "//a" would find the page's first link for every post.
        how = "or id(… $pid …) (by the post's id)" if table.item == "post" else "or self:: (the row itself)"
        raise ValueError(
            f"{name}: {field} is looked for in each {table.item}: start it with '.' (inside the {table.item})"
            f" {how}: {expression!r}"
        )
    try:
        found = compiled(expression)(etree.fromstring("<html><body/></html>"), pid="0")
    except etree.XPathError as error:
        raise ValueError(f"{name}: {field} is not a valid XPath ({error}): {expression!r}") from None
    if field in _UNITED and not isinstance(found, list):
        # A row's marks are looked for in one union of its selectors: node-sets only.
        raise ValueError(f"{name}: {field} must find elements (not a boolean, number or string): {expression!r}")


_UNITED = ("sticky", "digest")
