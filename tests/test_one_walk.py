"""Where one walk of a few elements in Python replaces several XPath searches (each call has a
fixed cost that outweighs a small walk), the walk finds what the searches found, in the same
order: held to the XPaths on every attachment block, and every post, of the fixture and corpus
pages and the sample forum."""

from pathlib import Path

from lxml import etree

from scraper import thread_extras
from scraper.encoding import decode_html
from scraper.html_page import open_page
from scraper.problems import PageProblem

ROOT = Path(__file__).parent.parent
PAGES = sorted(path for folder in (ROOT / "tests/fixtures", ROOT / "tests/corpus/pages") for path in folder.rglob("*.htm*"))
PAGES += sorted((ROOT / "sample_forum").rglob("thread-*.html"))
_SRC = "[contains(@src, 'mod=attachment') or contains(@src, 'attachment.php?aid=')][contains(@src, 'aid=')]"
# scraper.thread_extras._BlockParts's lists, as the XPaths they stand for.
XPATHS = {
    "links": ".//a[contains(@href, 'mod=attachment') or contains(@href, 'attachment.php?aid=')][contains(@href, 'aid=')]",
    "pay_links": ".//a[contains(@href, 'action=attachpay')]",
    "ided": ".//*[@id or @aid]",
    "ems": ".//em",
    "images": f"descendant-or-self::img[@aid or starts-with(@id, 'aimg_') or self::img{_SRC}]",
    "name_places": ".//a[starts-with(@id, 'aid')] | .//span[starts-with(@id, 'attach_')]//a | .//p/strong",
}


def test_block_parts_are_what_their_xpaths_find():
    searches = {name: etree.XPath(expression) for name, expression in XPATHS.items()}
    blocks = 0
    for path in PAGES:
        try:
            sel, _, _ = open_page(decode_html(path.read_bytes()).text, "http://127.0.0.1:8080/", None)
        except PageProblem:
            continue
        for _, post in thread_extras._posts(sel.root) or [(None, sel.root)]:
            for element in [post, *thread_extras._ATTACH_BLOCKS(post)]:
                blocks += 1
                parts = thread_extras._BlockParts(element)
                for name, search in searches.items():
                    assert getattr(parts, name) == search(element), (path.name, name)
    assert blocks > 400
