"""The Cookie header of a request, from the user's cookies.txt (``-a cookies=FILE``, read by
spiders.arguments): the spider's requests and the media store's downloads send the same."""

from __future__ import annotations

import urllib.request
from http.cookiejar import CookieJar


def cookie_header(jar: CookieJar | None, url: str) -> dict[str, str]:
    """The Cookie header the browser would send to ``url`` (domain, path and secure rules)."""
    if jar is None:
        return {}
    request = urllib.request.Request(url)
    jar.add_cookie_header(request)
    cookie = request.get_header("Cookie")
    return {"Cookie": cookie} if cookie else {}
