"""A message element to clean HTML and text (scraper.content): what the author typed stays
what it was, markup or not."""

from html import escape

from lxml import etree

from scraper import content
from scraper.content import extract_message, fragment_root, sanitize_html


def test_text_that_looks_like_markup_stays_text_in_html_and_text():
    markup = "if a&lt;b then &lt;script&gt;x&lt;/script&gt; &amp;amp; ok<br />next &lt;i&gt;"
    message = extract_message(fragment_root(markup), "http://127.0.0.1/")
    assert message.html == "if a&lt;b then &lt;script&gt;x&lt;/script&gt; &amp;amp; ok<br>next &lt;i&gt;"
    assert message.text == "if a<b then <script>x</script> &amp; ok\nnext <i>"


def test_a_message_of_text_alone_comes_out_as_it_was():
    message = extract_message(fragment_root("  一行字 &amp; 3 &gt; 2 &lt;b&gt;\n "), "http://127.0.0.1/")
    assert (message.html, message.text) == ("一行字 &amp; 3 &gt; 2 &lt;b&gt;", "一行字 & 3 > 2 <b>")
    assert (message.images, message.edit_note, message.quote_pid, message.hidden) == ([], None, None, False)


def test_html_comments_in_a_message_are_not_its_text():
    message = extract_message(fragment_root("开头<!-- 编辑器留下的注释 -->正文<p>段落<!-- 又一个 --></p>"), "http://127.0.0.1/")
    assert message.text == "开头正文\n段落"
    assert "注释" not in message.html


def test_escaped_text_comes_out_of_the_sanitiser_as_it_went_in_but_for_three_characters():
    # what lets a message of text alone skip the sanitiser (scraper.content._text_html)
    every = "".join(chr(code) for code in range(1, 0x110000) if not 0xD800 <= code < 0xE000 and code not in (0x0D, 0xA0))
    assert sanitize_html(escape(every, quote=False)) == escape(every, quote=False)
    assert [sanitize_html(f"a{character}b") for character in "\r\x00\xa0"] == ["a\nb", "ab", "a&nbsp;b"]
    element = etree.Element("td")
    element.text = " a\r\nb\xa0&lt;c "
    assert extract_message(element, "http://127.0.0.1/").html == "a\nb&nbsp;&amp;lt;c"
    # first in its input, a byte-order mark is dropped too (every other character is kept there)
    assert [sanitize_html(escape(f"{character}a", quote=False)) for character in "\ufeffb\u200b"] == ["a", "ba", "\u200ba"]
    element.text = "\ufeff正文"
    assert extract_message(element, "http://127.0.0.1/").html == sanitize_html("\ufeff正文") == "正文"


def test_a_message_whose_text_holds_a_character_xml_refuses_is_read():
    # libxml2 makes "&#1;" the character itself, which lxml refuses to set as a text: the
    # message's first text is not taken out of the tree to serialise its children
    page = "<table><tr><td id='m'>a&#1;b&lt;<br>c<i>d</i></td></tr></table>".encode()
    root = etree.fromstring(page, etree.HTMLParser()).find(".//td")
    message = extract_message(root, "http://127.0.0.1/")
    assert message.html == sanitize_html("a\x01b&lt;<br>c<i>d</i>")
    assert message.text == "a\x01b<\ncd"


def test_the_markup_inside_a_message_is_its_escaped_text_and_its_children():
    root = fragment_root('a&lt;b<p title="x&gt;y" class=\'"q"\'>c&amp;d<br></p>e<!-- f --><i>g</i>h')
    root.set("title", '>"<')
    root.tail = "after"
    children = "".join(etree.tostring(child, encoding="unicode", method="html") for child in root)
    assert content._inner_html(root) == "a&lt;b" + children
    assert (root.text, root.tail, len(root)) == ("a<b", "after", 3)


def test_a_long_message_reads_as_a_short_one_and_loses_only_attributes_the_sanitiser_drops(monkeypatch):
    names = content._DROPPED_ATTRIBUTES
    assert not set(names) & set().union(*content._ALLOWED_ATTRIBUTES.values())
    with_them = "".join(f"<{tag} {' '.join(f'{name}=x' for name in names)} title=t>a</{tag}>" for tag in sorted(content._ALLOWED_TAGS))
    without = "".join(f"<{tag} title=t>a</{tag}>" for tag in sorted(content._ALLOWED_TAGS))
    assert sanitize_html(with_them) == sanitize_html(without)
    # a long message (its attributes stripped, its searches run without looking for their
    # words) against the same read as a short one
    markup = '<p style="color: red" id="p1" class="c">a<img zoomfile="z.jpg" file="f.jpg" src="s.jpg" aid="1" inpost="1" onclick="zoom()"></p>' * 80
    parts = (
        '<i class="pstatus"> 本帖最后由 a 于 2024-1-2 12:00 编辑 </i><br><br>'
        '<div class="quote"><blockquote><a href="forum.php?mod=redirect&amp;pid=7">b 发表于 2024-1-1</a><br>引文</blockquote></div>'
        '<div class="blockcode"><ol><li>x = 1</li></ol><em onclick="copycode(this)">复制代码</em></div>'
        '<script>alert(1)</script><div class="locked">游客，如果您要查看本帖隐藏内容请回复</div>'
    )
    long = extract_message(fragment_root(parts + markup), "http://127.0.0.1/")
    monkeypatch.setattr(content, "_LONG", float("inf"))
    assert extract_message(fragment_root(parts + markup), "http://127.0.0.1/") == long
    assert long.html.endswith('<p class="c">a<img src="http://127.0.0.1/z.jpg"></p>' * 80)
    assert (long.edit_note, long.quote_pid, long.hidden) == ("本帖最后由 a 于 2024-1-2 12:00 编辑", 7, True)
    assert "复制代码" not in long.text and "alert" not in long.text and "> 引文" in long.text
