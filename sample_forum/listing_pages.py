"""A forum's thread list as Discuz X3.5 renders it with another "threads per page" (``tpp``).

Why: the snapshots were taken with tpp=20 (forum 2's 14 threads on 2 pages of the saved site
are 10 and 4); scheduled crawls must be tried on forums whose list runs over several pages,
so the same threads are cut into pages of N.

What it changes, from the saved list pages of a forum (``forum-F-P.html``, the rewritten form;
the server turns links dynamic afterwards when asked):
- the rows: every ``<tbody id="normalthread_TID">`` (and ``stickthread_``) of every saved page,
  in the order the saved pages show them, cut into pages of N.
- the page around them: the saved page of that number; past the saved ones, the last saved
  page, named as this one (``第N页`` in the title and the RSS link's title).
- the pager, top and bottom (sample_forum.pagination.pager, as forumdisplay prints it: no
  下一页 link in it), the 下一页 button (``#autopbn``: its rel, curpage and totalpage), the
  ``listextra`` field and keyPageScroll.
- a page past the last is the last page (Discuz clamps ``page``).
It relies on the snapshot's markup: each row one ``<tbody id="…thread_TID">…</tbody>`` after
``<tbody id="separatorline"``, the last row followed by the table's end.
"""

from __future__ import annotations

import re

from sample_forum.pagination import key_scroll, page_count, pager

ROW = re.compile(r'<tbody id="(?:normal|stick)thread_\d+">.*?</tbody>\r?\n?', re.S)
_PAGERS = re.compile(r'(<span id="fd_page_(?:top|bottom)">)(?:<div class="pg">.*?</div>)?(</span>)', re.S)
_TITLE = re.compile(r"(<title>[^<]*?) - (?:第\d+页 - )?")
_RSS_TITLE = re.compile(r'(rel="alternate" type="application/rss\+xml" title="[^"]*?)(?: - 第\d+页)?(")')
_AUTOPBN = re.compile(r'rel="([^"]*?page=)\d+" curpage="\d+" id="autopbn" totalpage="\d+"')
_LISTEXTRA = re.compile(r'(<input type="hidden" name="listextra" value="page%3D)\d+(" />)')


def split_rows(text: str) -> tuple[str, list[str], str]:
    """(what comes before the rows, [each row's tbody], what comes after them)."""
    rows = list(ROW.finditer(text))
    if not rows:
        return text, [], ""
    return text[:rows[0].start()], [row[0] for row in rows], text[rows[-1].end():]


def listing_page(saved: list[str], fid: int, page: int, per_page: int) -> str:
    """Page ``page`` of forum ``fid``'s thread list with ``per_page`` threads a page, from its
    saved list pages (their texts, page 1 first)."""
    parts = [split_rows(text) for text in saved]
    rows = [row for _, found, _ in parts for row in found]
    pages = page_count(len(rows), per_page)
    page = min(max(page, 1), pages)
    head, _, tail = parts[min(page, len(parts)) - 1]
    if page > 1:
        head = _TITLE.sub(lambda m: f"{m[1]} - 第{page}页 - ", head, count=1)
        head = _RSS_TITLE.sub(lambda m: f"{m[1]} - 第{page}页{m[2]}", head, count=1)
    shown = pager(lambda number: f"forum-{fid}-{number}.html", f"forum.php?mod=forumdisplay&fid={fid}&amp;page=",
                  page, pages, next_link=False)
    head, tail = (_PAGERS.sub(lambda m: m[1] + shown + m[2], part) for part in (head, tail))
    head = _LISTEXTRA.sub(lambda m: f"{m[1]}{page}{m[2]}", head)
    following = page + 1 if page < pages else 1  # as Discuz prints it on the last page
    tail = _AUTOPBN.sub(lambda m: f'rel="{m[1]}{following}" curpage="{page}" id="autopbn" totalpage="{pages}"', tail)
    tail = key_scroll(tail, page, pages)
    return head + "".join(rows[(page - 1) * per_page:page * per_page]) + tail
