"""The archive as a forum inside datasette: the pages of browse/forum.py, rendered by
browse/render.py as the static mirror renders them (``python -m export site``), at

- ``/DB/-/forum``: the index; ``/DB/-/forum/FID?page=N&type=T``: a forum's thread list;
- ``/DB/-/thread/TID?page=N``: a thread, page N as the forum paged it (every thread title in
  datasette's tables links here);
- ``/DB/-/member/UID``, ``/DB/-/article/AID?page=N``, ``/DB/-/tag?name=TAG``.

Each takes ``site=`` when the archive holds several sites. Pages are read by floor on the
(site, tid, floor) index, so the 50th page of a long thread costs what the first does.
"""

from __future__ import annotations

import urllib.parse

from datasette.utils.asgi import NotFound, Response
from markupsafe import Markup

from browse import forum, render

ROUTES = {
    "index": r"^/(?P<database>[^/]+)/-/forum$",
    "forum": r"^/(?P<database>[^/]+)/-/forum/(?P<number>\d+)$",
    "thread": r"^/(?P<database>[^/]+)/-/thread/(?P<number>\d+)$",
    "member": r"^/(?P<database>[^/]+)/-/member/(?P<number>\d+)$",
    "article": r"^/(?P<database>[^/]+)/-/article/(?P<number>\d+)$",
    "tag": r"^/(?P<database>[^/]+)/-/tag$",
}


class LiveLinks(render.Links):
    """datasette's addresses for the same pages."""

    search_field = "_search"  # the comments table's search box

    def __init__(self, datasette, database: str, site: str, several_sites: bool):
        self.datasette, self.database, self.site = datasette, database, site
        self.base = datasette.urls.database(database) + "/-/"
        self.site_param = {"site": site} if several_sites else {}

    def _url(self, path: str, **params) -> str:
        query = urllib.parse.urlencode({**self.site_param, **{k: v for k, v in params.items() if v not in (None, 1)}})
        return self.base + path + (f"?{query}" if query else "")

    def index(self) -> str:
        return self._url("forum")

    def forum(self, fid: int, page: int = 1, type_id: int | None = None) -> str:
        return self._url(f"forum/{fid}", page=page, type=type_id)

    def thread(self, tid: int, page: int = 1) -> str:
        return self._url(f"thread/{tid}", page=page)

    def member(self, uid: int, page: int = 1) -> str:
        return self._url(f"member/{uid}", page=page)

    def article(self, aid: int, page: int = 1) -> str:
        return self._url(f"article/{aid}", page=page)

    def tag(self, name: str) -> str:
        return self._url("tag", name=name)

    def media(self, sha256: str) -> str:
        return self.datasette.urls.path(f"/-/media/{sha256[:2]}/{sha256}")

    def search(self) -> str:
        return self.datasette.urls.table(self.database, "comments")

    def revisions(self, pid: int) -> str:
        return f"{self.datasette.urls.table(self.database, 'revisions')}?" + urllib.parse.urlencode({"site": self.site, "pid": pid})

    def table(self) -> str:
        return self.datasette.urls.database(self.database)


def thread_url(datasette, database: str, site: str, tid: int) -> str:
    return f"{datasette.urls.database(database)}/-/thread/{tid}?" + urllib.parse.urlencode({"site": site})


def routes() -> list:
    return [(pattern, _handler(kind)) for kind, pattern in ROUTES.items()]


def _handler(kind: str):
    async def page(datasette, request):
        name = request.url_vars["database"]
        if name not in getattr(datasette, "_discuz_archives", ()):
            raise NotFound(f"{name} is not an archive of this project")
        db = datasette.get_database(name)
        try:
            number = int(request.url_vars.get("number") or 0)
            page_number = max(int(request.args.get("page") or 1), 1)
            type_id = int(request.args["type"]) if request.args.get("type") else None
        except ValueError:
            return Response.html("<p>page and type are whole numbers.</p>", status=400)
        wanted = request.args.get("site") or ""

        def build(conn):
            sites = forum.sites(conn)
            candidates = [site for site in sites if site == wanted] if wanted else sites
            if kind == "thread" and not wanted:  # a thread id is enough when only one site has it
                candidates = [row[0] for row in conn.execute("SELECT site FROM articles WHERE tid = ?", [number])]
            if len(candidates) != 1:
                return None, candidates, len(sites) > 1
            site = candidates[0]
            if kind == "index":
                return forum.index(conn, site), [site], len(sites) > 1
            if kind == "tag":
                return forum.tag(conn, site, request.args.get("name") or ""), [site], len(sites) > 1
            if kind == "forum":
                return forum.forum(conn, site, number, page_number, type_id), [site], len(sites) > 1
            return getattr(forum, kind)(conn, site, number, page_number), [site], len(sites) > 1

        try:
            context, sites, several = await db.execute_fn(build)
            offset, site_name = await db.execute_fn(
                lambda conn: (forum.utc_offset(conn, context["site"]), forum.site_name(conn, context["site"]))
            ) if context else (None, None)
        except forum.NotInArchive as missing:
            raise NotFound(f"{missing} is not in the archive")
        if context is None:
            if not sites:
                raise NotFound(f"{kind} {number or ''} is not in the archive")
            choices = "".join(f'<li><a href="?{urllib.parse.urlencode({"site": s})}">{Markup.escape(s)}</a></li>' for s in sites)
            return Response.html(f"<p>The archive holds several sites: choose one.</p><ul>{choices}</ul>")
        links = LiveLinks(datasette, name, context["site"], several)
        return Response.html(render.render(context, links, utc_offset=offset, site_name=site_name))

    return page
