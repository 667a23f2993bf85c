"""A synthetic Discuz forum of N thread pages, built from the bundled sample forum (v1).

Every thread of the sample (30 threads, 51 thread pages, 1 to 7 pages each) is a template;
copies get a new tid, new pids (``tid * 1000 + n``), the new tid in their title, and stay in
their template's forum (2, 3 or 4), so every page is distinct while the markup, the posts, the
floors and the noise are the real forum's. The listings (``forum-FID-P.html``, 10 rows a page
as in the sample, newest activity first, with a real Discuz pager) are built from the sample's
own rows, so the replies and the last post time a row shows are those of the thread it links
to: an unchanged forum, crawled again, costs one listing page per forum.

The files are written as nginx serves them: ``forum.php.html`` (the index, served at
``/forum.php``), ``forum-F-P.html``, ``thread-T-P-1.html``, ``robots.txt``; ``MANIFEST.json``
says what is there (thread pages, listing pages, posts, URLs).

    python -m bench.synth /tmp/forum --pages 2000 --base http://127.0.0.1:8081/
"""

from __future__ import annotations

import argparse
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_forum" / "v1"
SAMPLE_BASE = "http://127.0.0.1:8080/"
ROWS_PER_PAGE = 10
FIRST_TID = 1000  # new tids start here (the sample's are 1-31)

# Where a pid shows in a Discuz X3.5 thread page (post_166, postmessage_166, pid=166, ...).
_PID = re.compile(
    r"(post_|postmessage_|pid=|pid|g_up|userinfo|favatar|upgradeprogress_|postnum|authicon|authorposton"
    r"|comment_|post_rate_div_|_postposition|repquote=|miscreport|rid=)(\d+)(?!\d)"
)
_ROW = re.compile(r'<tbody id="(?:normalthread|stickthread)_(\d+)">.*?</tbody>', re.S)
_LISTED_THREAD = re.compile(r"(thread-\d+-\d+-)\d+\.html")
_PG = re.compile(r'<div class="pg">.*?</div>', re.S)


@dataclass
class Template:
    tid: int
    fid: int
    subject: str
    lastpost: str
    posts: int
    pages: list[str]  # the page files' text, page 1 first
    row: str  # the thread's row in its forum's listing


def _tid_patterns(tid: int) -> list[re.Pattern]:
    """Where a tid shows in thread pages and listing rows (only the number matches)."""
    return [
        re.compile(rf"(?<=thread-){tid}(?=-)"),
        re.compile(rf"(?<=tid=){tid}(?!\d)"),  # tid= and ptid=
        re.compile(rf"(?<=parseInt\('){tid}(?='\))"),
        re.compile(rf"(?<=thread_){tid}(?!\d)"),  # normalthread_, stickthread_
        re.compile(rf"(?<=content_){tid}(?!\d)"),
        re.compile(rf"(?<=CONTENT_TID='){tid}(?=')"),
    ]


def load_templates() -> tuple[list[Template], dict[int, str], str]:
    """The sample's threads with all their pages, their listing rows, each forum's first
    listing page and the index."""
    truth = json.loads((SAMPLE / "TRUTH.json").read_text(encoding="utf-8"))
    rows: dict[int, str] = {}
    listings: dict[int, str] = {}
    for forum in truth["forums"]:
        fid = forum["fid"]
        for page in sorted(SAMPLE.glob(f"forum-{fid}-*.html")):
            text = page.read_text(encoding="utf-8")
            listings.setdefault(fid, text) if page.name == f"forum-{fid}-1.html" else None
            for match in _ROW.finditer(text):
                rows[int(match[1])] = match[0]
    templates = []
    for thread in truth["threads"]:
        tid = thread["tid"]
        pages = []
        number = 1
        while (file := SAMPLE / f"thread-{tid}-{number}-1.html").exists():
            pages.append(file.read_text(encoding="utf-8"))
            number += 1
        if not pages or tid not in rows or tid in truth["deleted_tids"]:
            continue
        templates.append(
            Template(tid, thread["fid"], thread["subject"], thread["lastpost_iso"], len(thread["posts"]), pages, rows[tid])
        )
    return templates, listings, (SAMPLE / "forum.php.html").read_text(encoding="utf-8")


def _compile(text: str, template: Template, pid_index: dict[str, int]) -> list[str]:
    """The text split into literals (even indexes) and slots (odd): "T" for the tid, "P<n>"
    for the thread's n-th pid, so that each copy is one join."""
    for pattern in _tid_patterns(template.tid):
        text = pattern.sub("\x00T\x00", text)
    text = _PID.sub(lambda m: m[1] + (f"\x00P{pid_index[m[2]]}\x00" if m[2] in pid_index else m[2]), text)
    subject = html.escape(template.subject, quote=False)
    return text.replace(subject, f"{subject} #\x00T\x00").split("\x00")


def _fill(parts: list[str], new: int) -> str:
    tid = str(new)
    return "".join(
        part if i % 2 == 0 else (tid if part == "T" else str(new * 1000 + int(part[1:])))
        for i, part in enumerate(parts)
    )


def _pids(template: Template) -> dict[str, int]:
    """The thread's pids in page order, numbered from 1."""
    seen: dict[str, int] = {}
    for page in template.pages:
        for pid in re.findall(r'id="post_(\d+)"', page):
            seen.setdefault(pid, len(seen) + 1)
    return seen


def _pager(fid: int, page: int, count: int) -> str:
    """Discuz X3.5's forum pager: up to 10 numbered links around the page, first/last, next."""
    if count <= 1:
        return ""
    parts = ['<div class="pg">']
    if page > 1:
        parts.append(f'<a href="forum-{fid}-{page - 1}.html" class="prev">&nbsp;&nbsp;</a>')
    low, high = max(1, page - 4), min(count, max(page - 4, 1) + 9)
    if low > 1:
        parts.append(f'<a href="forum-{fid}-1.html" class="first">1 ...</a>')
    for number in range(low, high + 1):
        parts.append(f"<strong>{number}</strong>" if number == page else f'<a href="forum-{fid}-{number}.html">{number}</a>')
    if high < count:
        parts.append(f'<a href="forum-{fid}-{count}.html" class="last">... {count}</a>')
    parts.append(
        '<label><input type="text" name="custompage" class="px" size="2" title="输入页码，按回车快速跳转"'
        f' value="{page}" /><span title="共 {count} 页"> / {count} 页</span></label>'
    )
    if page < count:
        parts.append(f'<a href="forum-{fid}-{page + 1}.html" class="nxt">下一页</a>')
    parts.append("</div>")
    return "".join(parts)


def _listing_page(template_page: str, fid: int, page: int, count: int, rows: list[str]) -> str:
    starts = [m.start() for m in _ROW.finditer(template_page)]
    ends = [m.end() for m in _ROW.finditer(template_page)]
    head, tail = template_page[: min(starts)], template_page[max(ends) :]
    text = head + "\n".join(rows) + tail
    pager = _pager(fid, page, count)
    text = _PG.sub(lambda m: pager, text)  # forum 2's template has one; 3 and 4 have none
    if '<span id="fd_page_top"></span>' in text:
        text = text.replace('<span id="fd_page_top"></span>', f'<span id="fd_page_top">{pager}</span>')
        text = text.replace('<span id="fd_page_bottom"></span>', f'<span id="fd_page_bottom">{pager}</span>')
    return text


def build(out: str | Path, pages: int, base: str) -> dict:
    """Write a forum of at least ``pages`` thread pages into ``out`` for ``base``; return the manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    templates, listings, index = load_templates()
    rebase = lambda text: text.replace(SAMPLE_BASE, base)  # noqa: E731
    by_forum: dict[int, list[tuple[str, int, str]]] = {fid: [] for fid in listings}
    thread_pages = posts = 0
    new = FIRST_TID
    thread_urls = []
    compiled = []
    for template in templates:
        pid_index = _pids(template)
        row = re.sub(r"<img[^>]*pin_\d[^>]*>", "", template.row.replace("stickthread_", "normalthread_"))
        pages_parts = [_compile(rebase(text), template, pid_index) for text in template.pages]
        compiled.append((template, pages_parts, _compile(row, template, pid_index)))
    while thread_pages < pages:
        for template, pages_parts, row_parts in compiled:
            if thread_pages >= pages:
                break
            for number, parts in enumerate(pages_parts, 1):
                name = f"thread-{new}-{number}-1.html"
                (out / name).write_bytes(_fill(parts, new).encode("utf-8"))
                thread_urls.append(base + name)
            row = _fill(row_parts, new)
            by_forum[template.fid].append((template.lastpost, new, row))
            thread_pages += len(template.pages)
            posts += template.posts
            new += 1
    listing_pages = 0
    for fid, threads in by_forum.items():
        threads.sort(key=lambda t: (t[0], t[1]), reverse=True)  # newest activity first
        count = max(1, -(-len(threads) // ROWS_PER_PAGE))
        for page in range(1, count + 1):
            rows = [
                _LISTED_THREAD.sub(rf"\g<1>{page}.html", row)  # Discuz: thread-TID-PAGE-LISTPAGE.html
                for _, _, row in threads[(page - 1) * ROWS_PER_PAGE : page * ROWS_PER_PAGE]
            ]
            text = _listing_page(listings[fid], fid, page, count, rows)
            (out / f"forum-{fid}-{page}.html").write_text(rebase(text), encoding="utf-8")
            listing_pages += 1
    (out / "forum.php.html").write_text(rebase(index), encoding="utf-8")
    (out / "robots.txt").write_bytes((SAMPLE / "robots.txt").read_bytes())
    manifest = {
        "base": base,
        "index": base + "forum.php",
        "thread_pages": thread_pages,
        "threads": new - FIRST_TID,
        "posts": posts,
        "listing_pages": listing_pages,
        "forums": sorted(by_forum),
        "bytes": sum(f.stat().st_size for f in out.iterdir() if f.suffix == ".html"),
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    (out / "THREAD_URLS.txt").write_text("\n".join(thread_urls) + "\n")
    return manifest


def thread_pages(forum: Path, limit: int) -> list[tuple[str, bytes]]:
    """The first ``limit`` thread pages of a forum ``build`` made: each page's URL and bytes."""
    urls = (forum / "THREAD_URLS.txt").read_text().split()[:limit]
    return [(url, (forum / url.rsplit("/", 1)[1]).read_bytes()) for url in urls]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--base", default="http://127.0.0.1:8081/")
    args = parser.parse_args()
    print(json.dumps(build(args.out, args.pages, args.base), indent=1))


if __name__ == "__main__":
    main()
