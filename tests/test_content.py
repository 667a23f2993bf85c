"""A message element to clean HTML and text (scraper.content): what the author typed stays
what it was, markup or not."""

from scraper.content import extract_message, fragment_root


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
