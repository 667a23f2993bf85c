"""A thread page's rating tables as Discuz X3.5 renders them with fewer raters shown
(``ratelogrecord``), and the viewratings page of any post.

Why: the snapshots were taken with ratelogrecord=5, so only one post (tid 1 pid 1, 7 raters)
leads to its full list; a forum showing 2 raters sends the crawl to the list of many posts.

What it changes, as source/module/forum/forum_viewthread.php builds ``$post['ratelog']``: it
reads the post's ratings newest first and adds a rater's row while fewer than N raters are in
the table, so
- each table keeps its first N rater rows (``tr#rate_PID_UID``, newest first as saved);
- the Nth rater's row holds only the first of its ratings read: when that rater gave several
  credits at once, the others come after the table is full and are left out, even when no
  rater is hidden (参与人数 is N: only the credit totals tell). Discuz reads the ratings with
  the query its viewratings list uses (``ORDER BY dateline DESC``), so in the order that list
  prints them (among credits given at once, not the columns' order): the row keeps the credit
  the list prints first for that rater (its first given one when no list is saved) and
  blanks the others;
- the header stays: 参与人数 counts every rater (``totalrate``) and the credit totals add
  every rating (``ratelogextcredits``), whatever is shown; 查看全部评分 stays too.

The viewratings page (``forum.php?mod=misc&action=viewratings&tid=T&pid=P``): the snapshots
saved it for tid 1 pid 1 only, and its ajax answer for every rated post. Discuz renders both
from one template, the page adding the header, breadcrumb and footer, so a post's page is the
saved page with the post's list and totals from its ajax answer, and the thread's forum and
title in the breadcrumb.
"""

from __future__ import annotations

import re

_LOG = re.compile(r'<dl id="ratelog_(\d+)".*?</dl>', re.S)
_CREDITS = re.compile(r'<th class="xw1" width="80">([^<]*?)\s*<i>')
_RATER_ROWS = re.compile(r'(<tbody class="ratl_l">)(.*?)(</tbody>)', re.S)
_ROW = re.compile(r'<tr id="rate_\d+_(\d+)">.*?</tr>\s*', re.S)
_CELL = re.compile(r'<td[^>]*>.*?</td>', re.S)
_LISTED = re.compile(r'<td>\s*([^<]*?)\s*[+-]\s*\d+\s*</td>\s*<td><a href="[^"]*?uid[-=](\d+)')
_LIST = re.compile(r'<table class="list".*?</table>', re.S)
_TOTALS = re.compile(r'<div class="o pns">.*?</div>', re.S)
_CRUMBS = re.compile(r'<a href="forum-\d+-1\.html">[^<]*</a> <em>&rsaquo;</em> <a href="thread-\d+-1-1\.html">[^<]*</a>')
_EMPTY_CELL = '<td class="xg1"></td>'


def fewer_raters(text: str, shown: int, listed=lambda pid: "") -> str:
    """Every rating table in a thread page with at most ``shown`` raters; ``listed(pid)`` is
    the post's viewratings answer (its order says which rating Discuz reads first)."""

    def log(match: re.Match) -> str:
        credits = [name.strip() for name in _CREDITS.findall(match[0])]
        first = first_credits(listed(int(match[1])))
        return _RATER_ROWS.sub(lambda rows: rows[1] + _first_rows(rows[2], shown, credits, first) + rows[3], match[0])

    return _LOG.sub(log, text)


def first_credits(answer: str) -> dict[int, str]:
    """Each rater's first credit in a viewratings list (rater uid -> credit name)."""
    first: dict[int, str] = {}
    for credit, uid in _LISTED.findall(answer):
        first.setdefault(int(uid), credit)
    return first


def _first_rows(rows: str, shown: int, credits: list[str], first: dict[int, str]) -> str:
    found = list(_ROW.finditer(rows))
    if len(found) < shown:
        return rows
    kept = [m[0] for m in found[:shown]]
    cells = list(_CELL.finditer(kept[-1]))[1:1 + len(credits)]  # after the rater's cell, one per credit
    given = [n for n, cell in enumerate(cells) if cell[0] != _EMPTY_CELL]
    credit = first.get(int(found[shown - 1][1]))
    keep = credits.index(credit) if credit in credits else (given[0] if given else -1)
    for n in reversed(range(len(cells))):  # the Nth rater: its first rating only
        if n != keep:
            kept[-1] = kept[-1][:cells[n].start()] + _EMPTY_CELL + kept[-1][cells[n].end():]
    return rows[:found[0].start()] + "".join(kept) + rows[found[-1].end():]


def viewratings_page(template: str, answer: str, thread_page: str) -> str:
    """The viewratings page of a post: ``template`` (another post's saved page) with the
    list and totals of ``answer`` (the post's ajax answer) and the forum and thread of
    ``thread_page`` (its thread's first page) in the breadcrumb."""
    page = template
    for pattern, source in ((_LIST, answer), (_TOTALS, answer), (_CRUMBS, thread_page)):
        theirs, mine = pattern.search(source), pattern.search(page)
        if theirs and mine:
            page = page[:mine.start()] + theirs[0] + page[mine.end():]
    return page
