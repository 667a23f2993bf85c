"""A thread as a page that reads like the forum: ``/DB/-/thread/TID?site=SITE``.

The article, then its comments in floor order, each with its floor, author, time and message
(``content_html``, sanitised again as it is shown: rows may come from other programs). A quote
links to the post it quotes, an edited post shows its edit note and links to its earlier
texts, a post the forum no longer shows is marked, not hidden. Pages of PAGE_SIZE comments
(``size=N`` for others) follow each other by floor (``after=FLOOR``: keyset paging on the (site, tid, floor) index),
so the 50th page of a long thread costs what the first does.

Each post is rendered by the template's ``post`` block with the row as it is stored: what later
belongs under a post (点评, ratings, attachments) goes there.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from scraper.content import sanitize_html

PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
TEMPLATE = Path(__file__).parent / "templates" / "thread.html"


def thread_url(datasette, database: str, site: str, tid: int, **params) -> str:
    query = urllib.parse.urlencode({"site": site, **{key: value for key, value in params.items() if value}})
    return f"{datasette.urls.database(database)}/-/thread/{tid}?{query}"


async def thread_page(datasette, request):
    name = request.url_vars["database"]
    if name not in getattr(datasette, "_discuz_archives", ()):
        raise NotFound(f"{name} is not an archive of this project")
    db = datasette.get_database(name)
    tid = int(request.url_vars["tid"])
    site = request.args.get("site", "")
    try:
        after = int(request.args.get("after") or 0)
        size = min(max(int(request.args.get("size") or PAGE_SIZE), 1), MAX_PAGE_SIZE)
    except ValueError:
        return Response.html("<p>after and size are whole numbers (after: the floor a page starts after).</p>", status=400)
    sites = [row[0] for row in await db.execute(
        "SELECT site FROM articles WHERE site IN (SELECT site FROM sites WHERE :site = '' OR site = :site) AND tid = :tid",
        {"site": site, "tid": tid},
    )]  # fmt: skip
    if len(sites) != 1:
        links = "".join(f'<li><a href="{thread_url(datasette, name, s, tid)}">{Markup.escape(s)}</a></li>' for s in sites)
        return Response.html(f"<p>Thread {tid}: {'in several sites' if sites else 'not archived'}.</p><ul>{links}</ul>", status=404 if not sites else 200)
    site = sites[0]
    article = dict((await db.execute("SELECT * FROM articles WHERE site = ? AND tid = ?", [site, tid])).first())
    rows = [dict(row) for row in await db.execute(
        "SELECT * FROM comments WHERE site = ? AND tid = ? AND floor > ? ORDER BY floor, pid LIMIT ?",
        [site, tid, after, size + 1],
    )]  # fmt: skip
    more = len(rows) > size
    posts = ([{**article, "floor": 1}] if after < 1 and article["pid"] is not None else []) + rows[:size]
    total = (await db.execute("SELECT count(*) FROM comments WHERE site = ? AND tid = ?", [site, tid])).first()[0]
    earlier = (await db.execute(
        "SELECT floor FROM comments WHERE site = ? AND tid = ? AND floor <= ? ORDER BY floor DESC LIMIT 1 OFFSET ?",
        [site, tid, after, size - 1],
    )).first()  # fmt: skip
    await _link_quotes_and_revisions(datasette, db, name, site, tid, posts)
    for post in posts:
        post["message"] = Markup(sanitize_html(post.get("content_html") or ""))
    context = {
        "database": name,
        "site": site,
        "article": article,
        "posts": posts,
        "total": total + (article["pid"] is not None),
        "first_url": thread_url(datasette, name, site, tid, size=request.args.get("size")) if after else None,
        "previous_url": thread_url(datasette, name, site, tid, after=earlier[0] - 1 if earlier and earlier[0] > 2 else 0, size=request.args.get("size")) if after else None,
        "next_url": thread_url(datasette, name, site, tid, after=rows[size - 1]["floor"], size=request.args.get("size")) if more else None,
        "table_url": f"{datasette.urls.table(name, 'posts')}?" + urllib.parse.urlencode({"site": site, "tid": tid}),
    }
    template = datasette.jinja_env.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return Response.html(await datasette.render_template(template, context, request=request))


async def _link_quotes_and_revisions(datasette, db, name: str, site: str, tid: int, posts: list[dict]) -> None:
    """Give each post ``quote_url`` (the quoted post: on this page, or the page it opens) and
    ``revisions_url`` when earlier texts of it are kept."""
    shown = {post["pid"] for post in posts}
    quoted = sorted({post["quote_pid"] for post in posts if post.get("quote_pid")} - shown)
    floors = {}
    if quoted:
        marks = ", ".join("?" for _ in quoted)
        found = await db.execute(
            f"SELECT pid, tid, floor FROM comments WHERE site = ? AND pid IN ({marks})"
            f" UNION ALL SELECT pid, tid, 1 FROM articles WHERE site = ? AND tid = ? AND pid IN ({marks})",
            [site, *quoted, site, tid, *quoted],
        )
        floors = {row["pid"]: (row["tid"], row["floor"]) for row in found}
    pids = sorted(pid for pid in shown if pid is not None)
    marks = ", ".join("?" for _ in pids)
    revised = {row[0] for row in await db.execute(f"SELECT DISTINCT pid FROM revisions WHERE site = ? AND pid IN ({marks})", [site, *pids])} if pids else set()
    for post in posts:
        quote = post.get("quote_pid")
        if quote in shown:
            post["quote_url"] = f"#pid{quote}"
        elif quote in floors:
            quoted_tid, floor = floors[quote]
            after = max((floor or 1) - 1, 0)
            post["quote_url"] = thread_url(datasette, name, site, quoted_tid, after=after) + f"#pid{quote}"
        if post["pid"] in revised:
            post["revisions_url"] = f"{datasette.urls.table(name, 'revisions')}?" + urllib.parse.urlencode({"site": site, "pid": post["pid"]})
