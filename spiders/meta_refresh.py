"""Scrapy's meta refresh, without decoding pages that cannot hold one: ``MetaRefresh``.

Scrapy's MetaRefreshMiddleware reads a refresh from a page's first 4,096 characters, and gets
them by decoding the whole page (``response.text``), which the crawl's process has no other
use for: the archive reads the bytes. A refresh is a ``<meta>`` tag whose attributes hold the
word "refresh" (w3lib.html.get_meta_refresh, in the w3lib 2.5 that requirements.txt pins,
passes over every other tag before it reads entities), so a page whose first characters do
not hold that word passes as it is. The test is on the bytes: in the encodings named below a
character takes at most 4 bytes, and the word's letters are their ASCII bytes; a page in
another encoding goes through Scrapy's whole reading. METAREFRESH_ENABLED,
METAREFRESH_IGNORE_TAGS and METAREFRESH_MAXDELAY work as Scrapy's.
"""

from __future__ import annotations

import codecs

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import HtmlResponse, Request, Response

SCANNED = 4096  # characters: scrapy.utils.response.get_meta_refresh reads response.text[0:4096]
# Python's names (codecs.lookup) of encodings in which a character takes 1 to 4 bytes and
# ASCII's letters are their own bytes: Discuz's, and what Scrapy reads an undeclared page as.
ASCII_LETTERS_4_BYTES = frozenset({
    "utf-8", "gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp950", "euc_jp", "euc_kr", "shift_jis",
    "cp932", "cp949", "ascii", "iso8859-1", "iso8859-15", "cp1250", "cp1251", "cp1252",
})


class MetaRefresh(MetaRefreshMiddleware):
    def process_response(self, request: Request, response: Response) -> Request | Response:
        if isinstance(response, HtmlResponse) and not may_refresh(response):
            return response
        return super().process_response(request, response)


def may_refresh(response: HtmlResponse) -> bool:
    """False only where the first SCANNED characters cannot hold the word "refresh", in any case."""
    if b"refresh" in response.body[: 4 * SCANNED].lower():
        return True
    try:
        name = codecs.lookup(response.encoding).name
    except LookupError:
        return True
    return name not in ASCII_LETTERS_4_BYTES
