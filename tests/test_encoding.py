"""A page's bytes to text (scraper.encoding), and the text to the tree (scraper.html_page): a
page decoded from UTF-8 is parsed from the bytes it came in, never encoded again."""

from lxml import etree

from scraper.encoding import decode_html, take_utf8
from scraper.html_page import _html_tree

PAGE = "<html><body><p>一行字 &amp; more</p>\x01</body></html>"


def test_the_parser_takes_the_bytes_of_the_last_page_decoded_from_utf8():
    body = PAGE.encode()
    text = decode_html(body).text
    assert take_utf8(text) is body
    assert take_utf8(text) is None  # taken: not held after
    assert take_utf8(decode_html(b"\xef\xbb\xbf" + body).text) == body  # the byte-order mark left out


def test_any_other_text_is_encoded_again_and_reads_the_same():
    first = decode_html(PAGE.encode()).text
    equal = PAGE.encode().decode()  # the same characters, another object
    gbk = decode_html(PAGE.encode("gb18030"), "text/html; charset=gbk").text
    assert (take_utf8(equal), take_utf8(gbk)) == (None, None)
    decode_html(b"<p>another page</p>")
    assert take_utf8(first) is None  # no longer the last decoded from UTF-8
    trees = [etree.tostring(_html_tree(text), encoding="unicode") for text in (first, equal, gbk)]
    assert trees == ["<html><body><p>一行字 &amp; more</p></body></html>"] * 3
