"""A thread's pages as Discuz X3.5 renders them with another "posts per page" (``postperpage``).

Why: the snapshots were taken with postperpage=10; a forum set otherwise splits the same posts
into other pages, with other pagers, and the crawl must still find every post once.

What it changes, from the saved pages of a thread (``thread-T-P-1.html``, the rewritten form;
the server turns links dynamic afterwards when asked):
- the posts: every ``<div id="post_PID" >`` of every saved page, in floor order, cut into
  pages of N. A post keeps everything in its block (点评, ratings, poll, tags, attachments:
  the first post's extras stay with it, on page 1); its reply links name its new page.
- the page around them: the saved page of that number; past the saved ones, the saved page 2
  named as this one (``第N页`` in the title), else page 1 as Discuz renders a later page:
  ``第N页`` in the title, the description without the first post's summary, the thread author
  (``#tath``, 楼主) where page 1 shows the view and reply counts. REPORTURL (the page's own
  URL in base64) names the page.
- the pager, top and bottom: ``multi()`` of source/function/function_core.php (the window of
  10 links, ``1 ...`` first and ``... N`` last links, ``prev``, the page box with
  ``共 N 页``, ``nxt``); the ``下一页 »`` button; the page in the hidden form field,
  keyPageScroll and the quick-reply link; the pids in fixed_avatar().
- a page past the last is the last page (Discuz clamps ``page``).
It relies on the snapshot's markup (each post in one ``div#post_PID`` before
``div#postlistreply``) and on its pages holding every post in order. The lists' small
per-thread pagers (``span.tps``) stay as saved: the crawl reads a thread's pager, not them.
"""

from __future__ import annotations

import base64
import re

POST_START = re.compile(r'<div id="post_(\d+)" >')
REPLY_END = '<div id="postlistreply"'
_TOP_PAGER = re.compile(r'<div class="pgt">(?:<div class="pg">.*?</div>)?</div>', re.S)
_BOTTOM_PAGER = re.compile(r'(<div class="pgs mtm mbm cl">\s*)(?:<div class="pg">.*?</div>)?', re.S)
_NEXT_BUTTON = re.compile(r'<div class="pgbtn">.*?</div>\s*', re.S)
_HIDDEN_PAGE = re.compile(r'(<input type="hidden" name="page" value=")\d+(" />)')
_SCROLL = re.compile(r"keyPageScroll\(e, \d, \d, ('[^']*'), \d+\)")
_AVATARS = re.compile(r"fixed_avatar\(\[[\d,]*\], 1\)")
_REPLY_PAGE = re.compile(r"(mod=post&amp;action=reply[^\"]*?&amp;page=)\d+")
_SUBJECT = re.compile(r'<span id="thread_subject">(.*?)</span>', re.S)
_COUNTS = re.compile(r'<div class="hm ptn">.*?</div>', re.S)
_DESCRIPTION = re.compile(r'(<meta name="description" content=")[^"]* \.\.\. ')
_AUTHOR = re.compile(r'<div class="authi"><a href="(space-uid-(\d+)\.html)" target="_blank" class="xw1">([^<]*)</a>')
_BASE = re.compile(r'<base href="([^"]*)"')
_REPORT_URL = re.compile(r"(REPORTURL = ')([A-Za-z0-9+/=]*)(')")


def split_page(text: str) -> tuple[str, list[tuple[int, str]], str]:
    """(what comes before the posts, [(pid, the post's block)], what comes after them)."""
    starts = list(POST_START.finditer(text))
    end = text.find(REPLY_END)
    if not starts or end < 0:
        return text, [], ""
    blocks = [(int(m[1]), text[m.start():nxt.start() if nxt else end])
              for m, nxt in zip(starts, starts[1:] + [None])]
    return text[:starts[0].start()], blocks, text[end:]


def page_count(post_total: int, per_page: int) -> int:
    return max(1, -(-post_total // per_page))


def thread_page(saved: list[str], tid: int, page: int, per_page: int) -> str:
    """Page ``page`` of thread ``tid`` with ``per_page`` posts a page, from its saved pages
    (their texts, page 1 first)."""
    parts = [split_page(text) for text in saved]
    posts = [block for _, blocks, _ in parts for block in blocks]
    pages = page_count(len(posts), per_page)
    page = min(max(page, 1), pages)
    chosen = posts[(page - 1) * per_page:page * per_page]
    if page <= len(parts):
        head, _, tail = parts[page - 1]
    elif len(parts) >= 2:
        head, _, tail = parts[1]
        head = _title_page(head, page)
    else:
        head, _, tail = parts[0]
        head = _later_page_head(head, posts[0][1], page)
    head = _REPORT_URL.sub(lambda m: m[1] + _own_url(m[2], tid, page) + m[3], head, count=1)
    pager = multi(tid, page, pages)
    head = _TOP_PAGER.sub(lambda _: f'<div class="pgt">{pager}</div>', head, count=1)
    tail = _BOTTOM_PAGER.sub(lambda m: m[1] + pager, tail, count=1)
    tail = _NEXT_BUTTON.sub("", tail)
    if page < pages:
        newline = "\r\n" if "\r\n" in tail else "\n"
        button = f'<div class="pgbtn"><a href="thread-{tid}-{page + 1}-1.html" hidefocus="true" class="bm_h">下一页 &raquo;</a></div>{newline * 2}'
        tail = tail.replace('<div class="pgs mtm mbm cl">', button + '<div class="pgs mtm mbm cl">', 1)
    tail = _HIDDEN_PAGE.sub(lambda m: f"{m[1]}{page}{m[2]}", tail)
    tail = key_scroll(tail, page, pages)
    tail = _AVATARS.sub(f"fixed_avatar([{','.join(str(pid) for pid, _ in chosen)}], 1)", tail)
    tail = _REPLY_PAGE.sub(lambda m: f"{m[1]}{page}", tail)
    body = "".join(_REPLY_PAGE.sub(lambda m: f"{m[1]}{page}", block) for _, block in chosen)
    return head + body + tail


def _own_url(encoded: str, tid: int, page: int) -> str:
    """REPORTURL, the page's own URL in base64 (Discuz's report link), naming this page."""
    try:
        url = base64.b64decode(encoded).decode("utf-8")
    except ValueError:
        return encoded
    url = re.sub(r"thread-\d+-\d+-1\.html$", f"thread-{tid}-{page}-1.html", url)
    return base64.b64encode(url.encode("utf-8")).decode("ascii")


def _title_page(head: str, page: int) -> str:
    """A later page's title names it: "SUBJECT - 第N页 - FORUM - …"."""
    return re.sub(r"( - 第)\d+(页 - )", lambda m: f"{m[1]}{page}{m[2]}", head, count=1)


def _later_page_head(head: str, first_post: str, page: int) -> str:
    """Page 1's head as Discuz renders a later page: 第N页 in the title, the description
    without the summary, the thread author where page 1 shows the counts."""
    subject = _SUBJECT.search(head)
    if subject:
        head = head.replace(f"<title>{subject[1]} - ", f"<title>{subject[1]} - 第{page}页 - ", 1)
    head = _DESCRIPTION.sub(lambda m: m[1] + " ", head, count=1)
    author, base = _AUTHOR.search(first_post), _BASE.search(head)
    if author:
        href, uid, name = author.groups()
        avatar = f"{base[1] if base else ''}uc_server/avatar.php?uid={uid}&size=small"
        newline = "\r\n" if "\r\n" in head else "\n"
        tath = newline.join(('<div id="tath" class="cl">',
                             f'<a href="{href}" title="{name}"><img src="{avatar}" class="user_avatar"></a>',
                             f'楼主: <a href="{href}" title="{name}">{name}</a>', "</div>"))
        head = _COUNTS.sub(lambda _: tath, head, count=1)
    return head


def multi(tid: int, current: int, pages: int, window: int = 10) -> str:
    """Discuz's multi() for a thread's pages (links in the rewritten form, as the rewrite rule
    forum_viewthread prints them); '' for a thread of one page."""
    return pager(lambda number: f"thread-{tid}-{number}-1.html", f"forum.php?mod=viewthread&tid={tid}&amp;extra=&amp;page=",
                 current, pages, window)


def key_scroll(text: str, page: int, pages: int) -> str:
    """The arrow keys' paging script as Discuz prints it on page ``page`` of ``pages`` (a thread
    page and a forum list print the same one)."""
    return _SCROLL.sub(lambda m: f"keyPageScroll(e, {int(page > 1)}, {int(page < pages)}, {m[1]}, {page})", text)


def pager(link, jump: str, current: int, pages: int, window: int = 10, next_link: bool = True) -> str:
    """multi() of source/function/function_core.php: ``link(n)`` is page n's URL, ``jump`` the
    page box's target before the number; ``next_link``: the 下一页 link after the box (a thread
    list prints none: its 下一页 button is its own)."""
    if pages <= 1:
        return ""

    window -= len(str(current)) - 1
    window = max(window, 1)
    offset = window // 2
    if window > pages:
        first, last = 1, pages
    else:
        first, last = current - offset, current - offset + window - 1
        if first < 1:
            first, last = 1, max(current + 1 - first, window)
        elif last > pages:
            first, last = pages - window + 1, pages
    out = []
    if current - offset > 1 and pages > window:
        out.append(f'<a href="{link(1)}" class="first">1 ...</a>')
    if current > 1:
        out.append(f'<a href="{link(current - 1)}" class="prev">&nbsp;&nbsp;</a>')
    out += [f"<strong>{n}</strong>" if n == current else f'<a href="{link(n)}">{n}</a>' for n in range(first, last + 1)]
    if last < pages:
        out.append(f'<a href="{link(pages)}" class="last">... {pages}</a>')
    out.append(f'<label><input type="text" name="custompage" class="px" size="2" title="输入页码，按回车快速跳转" value="{current}" '
               f"onkeydown=\"if(event.keyCode==13) {{window.location='{jump}'+this.value;; doane(event);}}\" />"
               f'<span title="共 {pages} 页"> / {pages} 页</span></label>')
    if current < pages and next_link:
        out.append(f'<a href="{link(current + 1)}" class="nxt">下一页</a>')
    return '<div class="pg">' + "".join(out) + "</div>"
