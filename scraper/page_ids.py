"""The table of ids libxml2 fills as it parses a page (lxml's ``collect_ids``, on by default),
which XPath's id() reads, read from Python: the names in it, for a test that skips a search
for an id's prefix (a walk of every element) where no id begins so; and the element an id
names, for the per-post selectors of the form ``id(concat('prefix', $pid))…``, a lookup in
place of an XPath call. The table follows the tree as lxml edits it, but an element removed
takes its id out even where another element has the same one: read it before the tree is
edited. ``_IDDict`` is lxml's own, if private: where a version of lxml lacks it, every answer
falls back to the search or the XPath it stands for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

from lxml import etree

from scraper.xpath import compiled


class PageIds:
    """The page's ids: what id('name') finds, and every name (an <a>'s name is one too)."""

    def __init__(self, element: etree._Element) -> None:
        self.known = True  # False: lxml offers no table; ask the tree itself
        try:
            self._table = etree._IDDict(element.getroottree())
        except ValueError:  # a page without ids has no table
            self._table = None
        except (AttributeError, TypeError):
            self._table, self.known = None, False
        self._joined: str | None = None

    def get(self, name: str) -> etree._Element | None:
        try:
            return self._table[name] if self._table is not None else None
        except KeyError:
            return None

    def names(self) -> list[str]:
        return self._table.keys() if self._table is not None else []

    def begins(self, prefixes: Iterable[str]) -> bool:
        """Whether an id begins with one of ``prefixes``: the names joined once, each after a
        line break, and searched for each prefix after one (a name holding a line break may
        answer yes for none: a search the more, never one the less). Yes where the table is
        not known."""
        if not self.known:
            return True
        if self._joined is None:
            self._joined = "\n" + "\n".join(self.names())
        return any("\n" + prefix in self._joined for prefix in prefixes)


# id(concat('prefix', $pid)), then a path from the element it names: no union (whose other
# side would stand on its own), no space in the prefix (id() reads each word as an id).
_ID_OF_PID = re.compile(r"id\(concat\('([^'\s]*)', \$pid\)\)(/[^|]*)?", re.S)
PidSelector = Callable[[etree._Element, str, PageIds], list]


@functools.lru_cache(maxsize=None)
def pid_selector(expression: str) -> PidSelector:
    """A per-post selector as a function of the post's element, its pid and the page's ids:
    one of the form id(concat('prefix', $pid))/path finds the element by the table and the
    path from it, what the XPath finds; any other is its XPath, given $pid."""
    xpath = compiled(expression)
    match = _ID_OF_PID.fullmatch(expression)
    if match is None:
        return lambda root, pid, ids: xpath(root, pid=pid)
    prefix, path = match[1], compiled("." + match[2]) if match[2] else None

    def find(root: etree._Element, pid: str, ids: PageIds) -> list:
        if not ids.known:
            return xpath(root, pid=pid)
        element = ids.get(prefix + pid)
        if element is None:
            return []
        return [element] if path is None else path(element, pid=pid)

    return find
