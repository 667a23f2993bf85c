"""Flags a plugin adds to a request before datasette reads it (``asgi_wrapper``)."""

from __future__ import annotations

import urllib.parse


def with_flags(scope: dict, *names: str, **extra) -> dict:
    """The ASGI scope with ``NAME=1`` added to its query string for each of ``names`` the
    request does not set yet (datasette's ``_nocount``, ``_nofacet`` …), and ``extra`` keys.
    Added once, the page's own links carry them on."""
    raw = scope.get("query_string", b"")
    present = {key for key, value in urllib.parse.parse_qsl(raw.decode("utf-8", "replace")) if value}
    added = [f"{name}=1".encode() for name in names if name not in present]
    return dict(scope, query_string=b"&".join(filter(None, [raw, *added])), **extra)
