"""Where Python does what XPath searches did (one walk of a few elements in place of several
searches, each call having a fixed cost that outweighs a small walk; a regex in place of
EXSLT's re:test, a call from C into Python for each element), it finds what the searches
found, in the same order: held to the XPaths on every attachment block, and every post, of the
fixture and corpus pages and the sample forum."""

import re
from pathlib import Path

from lxml import etree

from scraper import attachments, html_page, page_ids, thread, thread_extras
from scraper.encoding import decode_html
from scraper.html_page import open_page
from scraper.noise import noise_elements
from scraper.page_ids import PageIds, pid_selector
from scraper.problems import PageProblem
from scraper.profiles import BUILT_IN, GENERIC, choose
from scraper.xpath import squash, words_of

ROOT = Path(__file__).parent.parent
PAGES = sorted(path for folder in (ROOT / "tests/fixtures", ROOT / "tests/corpus/pages") for path in folder.rglob("*.htm*"))
PAGES += sorted((ROOT / "sample_forum").rglob("thread-*.html"))
_SRC = "[contains(@src, 'mod=attachment') or contains(@src, 'attachment.php?aid=')][contains(@src, 'aid=')]"
# scraper.attachments._BlockParts's lists, as the XPaths they stand for.
XPATHS = {
    "links": ".//a[contains(@href, 'mod=attachment') or contains(@href, 'attachment.php?aid=')][contains(@href, 'aid=')]",
    "pay_links": ".//a[contains(@href, 'action=attachpay')]",
    "ems": ".//em",
    "images": f"descendant-or-self::img[@aid or starts-with(@id, 'aimg_') or self::img{_SRC}]",
    "name_places": ".//a[starts-with(@id, 'aid')] | .//span[starts-with(@id, 'attach_')]//a | .//p/strong",
}

IDED = etree.XPath(".//*[@id or @aid]")  # what attachments.aid_in_ids reads, after the block

# scraper.attachments.attach_blocks, as the XPath it stands for.
ATTACH_BLOCKS = etree.XPath(
    "descendant::ignore_js_op"
    " | descendant::dl[contains(concat(' ', normalize-space(@class), ' '), ' tattl ')][not(ancestor::ignore_js_op)]"
    " | descendant::span[starts-with(@id, 'attach_')][not(ancestor::ignore_js_op)]"
    f" | descendant::img{_SRC}[not(ancestor::ignore_js_op"
    " or ancestor::dl[contains(concat(' ', normalize-space(@class), ' '), ' tattl ')]"
    " or ancestor::span[starts-with(@id, 'attach_')])]"
)

NOISE = etree.XPath(
    ".//font[contains(@class, 'jammer') and contains(concat(' ', normalize-space(@class), ' '), ' jammer ')]"
    " | .//*[@style and re:test(@style, 'display\\s*:\\s*none|font-size\\s*:\\s*0(?:\\.0+)?(?:px|pt|em|%)?\\s*(?:;|$)', 'i')]",
    namespaces={"re": "http://exslt.org/regular-expressions"},
)

def _pages():
    for path in PAGES:
        try:
            yield path, open_page(decode_html(path.read_bytes()).text, "http://127.0.0.1:8080/", None)[0].root
        except PageProblem:
            continue


def test_noise_elements_are_what_the_exslt_search_finds():
    found = 0
    for path, root in _pages():
        for element in [root, *(post for _, post in thread_extras._posts(root))]:
            assert noise_elements(element) == NOISE(element), path.name
            found += len(NOISE(element))
    assert found > 1000


def test_block_parts_are_what_their_xpaths_find():
    searches = {name: etree.XPath(expression) for name, expression in XPATHS.items()}
    blocks = aids = 0
    for path, root in _pages():
        for _, post in thread_extras._posts(root) or [(None, root)]:
            for element in [post, *ATTACH_BLOCKS(post)]:
                blocks += 1
                parts = attachments._BlockParts(element)
                for name, search in searches.items():
                    assert getattr(parts, name) == search(element), (path.name, name)
                assert attachments.aid_in_ids(element) == _aid_in_ids(element), path.name
                aids += attachments.aid_in_ids(element) is not None
    assert blocks > 400 and aids > 200


def _aid_in_ids(block):
    """attachments.aid_in_ids, read from the XPath's finds."""
    for element in [block, *IDED(block)]:
        if (aid := element.get("aid")) and aid.isdigit():
            return int(aid)
        if match := re.match(r"^(?:attach_|aid|aimg_)(\d+)$", element.get("id") or ""):
            return int(match[1])
    return None


def _class(name: str) -> str:
    return f"(contains(@class, '{name}') and contains(concat(' ', normalize-space(@class), ' '), ' {name} '))"


SPECIAL_BLOCKS = etree.XPath(
    f".//div[{_class('pcht')} or {_class('rwd')} or {_class('act')} or {_class('dbt')}]"
    " | .//form[@id='poll' or contains(@action, 'action=trade') or contains(@action, 'action=activityapplies')"
    " or contains(@action, 'action=debatevote')]"
    " | .//*[@id][starts-with(@id, 'reward') or starts-with(@id, 'trade') and contains(@id, '_')]"
)
# Each special kind's markup, and markup that only looks like it.
SPECIAL_MARKUP = [
    '<div class="pcht">', '<form id="poll">', '<div class="x rwd">', '<p id="reward_1">', '<span id="trade_2">',
    '<span id="trade2">', '<form action="forum.php?action=trade&amp;x">', '<div class="act">',
    '<div class="action">', '<form action="misc.php?action=activityapplies">', '<div class="dbt">',
    '<form action="forum.php?action=debatevote">', '<div class="pcht\u00a0x">', '<div class="\tdbt\n">',
    '<p class="pcht">', '<div id="rewardx" class="act">',
]


def _special_by_xpath(root):
    tests = [(name, etree.XPath(f"boolean({test})")) for name, test in thread_extras._SPECIAL_TESTS]
    blocks = SPECIAL_BLOCKS(root)
    return next((name for name, test in tests if any(test(block) for block in blocks)), None)


def test_special_kind_is_what_the_xpaths_find():
    kinds = set()
    for path, root in _pages():
        for element in [root, *(post for _, post in thread_extras._posts(root))]:
            assert thread_extras._first_post_parts(element)[0] == _special_by_xpath(element), path.name
            kinds.add(_special_by_xpath(element))
    for first in SPECIAL_MARKUP:
        for second in ["", *SPECIAL_MARKUP]:
            root = etree.fromstring(f"<html><body><div>{first}x</div><div>{second}y</div></body></html>", etree.HTMLParser())
            assert thread_extras._first_post_parts(root)[0] == _special_by_xpath(root), (first, second)
            kinds.add(_special_by_xpath(root))
    assert kinds == {None, "poll", "reward", "trade", "activity", "debate"}


def test_page_ids_hold_every_id_on_the_page():
    """scraper.page_ids (libxml2's table of ids; an <a>'s name too) holds every id an
    XPath finds: a search skipped where no id begins with its prefix must miss nothing."""
    for path, root in _pages():
        assert set(root.xpath("//@id")) - {""} <= set(PageIds(root).names()), path.name


def test_pid_selectors_find_what_their_xpaths_find():
    """scraper.page_ids.pid_selector: an id(concat('prefix', $pid))… selector read through the
    table of ids finds what the XPath finds, for every built-in per-post selector of that form
    on every post (and a pid that names no post, and selectors like it that stay XPaths)."""
    expressions = {x for profile in (*BUILT_IN, GENERIC) for field in ("message", "author", "time", "floor")
                   for x in getattr(profile, field) if x.startswith("id(")}  # the rest are their XPath
    expressions |= {"id(concat('postmessage_', $pid)) | //title", "id(concat('post message', $pid))",
                    "id(concat('postnum', $pid))//text()", "id(concat('favatar', $pid))/following::a[1]"}
    by_table = 0
    for path, root in _pages():
        ids = PageIds(root)
        for pid in [*(str(pid) for pid, _ in thread_extras._posts(root)), "0"]:
            for expression in expressions:
                found = pid_selector(expression)(root, pid, ids)
                assert found == etree.XPath(expression)(root, pid=pid), (path.name, pid, expression)
                by_table += bool(found) and page_ids._ID_OF_PID.fullmatch(expression) is not None
    assert by_table > 100


def test_comment_block_test_is_the_regex_search():
    texts = [path.read_bytes().decode("utf-8", "replace") for path in PAGES]
    texts += ['<div id="comment_1">\n</div><div id="comment_2" class="cm"> x', "comment_comment_3>y", "comment_", ""]
    # each thing the regex asks: a digit (any of Unicode's decimal ones, not ²), the tag's end before the
    # next comment_, then after white space (any of re's, U+3000 too) something, not "</div>"
    for head in ("comment_", "comment_7", "comment_\uff15", "comment_\u00b2", "comment_7'", "comment_7 c", "comment_7 comment_"):
        for tail in ("", ">", "> ", ">x", ">\u3000\n y", "> </div>", "> </DIV>", ">\xa0</div>x", "></div", "comment_8>z"):
            texts.append(head + tail)
    shown = [thread_extras._shows_comment_block(text) for text in texts]
    assert shown == [thread_extras._COMMENT_BLOCK_SHOWN.search(text) is not None for text in texts]
    assert any(shown) and not all(shown)


def test_type_links_are_what_the_xpaths_find():
    markup = ['<h1 class="ts"><a href="f.php?typeid=1">[a]</a> <a href="x">x</a></h1>',
              '<h1 class="x\tts"><a href="f.php?typeid=2">b</a><b><a href="typeid=3">c</a></b></h1>',
              '<h1 class="ts"><h1 class="ts"><a href="?typeid=4">d</a></h1><a href="?typeid=5">e</a></h1>',
              '<a href="?typeid=6">f</a><span id="thread_subject">s</span><h1 class="tss"><a href="?typeid=7">g</a></h1>']
    roots = [root for _, root in _pages()]
    roots += [etree.fromstring(f"<html><body>{first}{second}</body></html>", etree.HTMLParser())
              for first in markup for second in ["", *markup]]
    # a page with two <html> (mcbbs' in the corpus): "//h1" reads both
    roots += [etree.fromstring(f"<!-- c --><html><body>{first}</body></html><html><body>{markup[1]}</body></html>",
                               etree.HTMLParser()) for first in markup]
    found = 0
    for root in roots:
        expected = thread_extras._SUBJECT_TYPE_LINKS(root) + thread_extras._H1_TYPE_LINKS(root)
        assert list(thread_extras._type_links(root)) == expected
        found += len(expected)
    assert found > 20


def test_words_of_an_element_without_children_is_its_string():
    string = etree.XPath("string()")
    childless = 0
    for path, root in _pages():
        for element in root.iter(etree.Element):
            assert words_of(element) == string(element), path.name
            childless += not len(element)
    assert childless > 10000


TEXTS_OUTSIDE_MESSAGE = etree.XPath(
    ".//text()[not(ancestor::*[starts-with(@id, 'message') or starts-with(@id, 'postmessage_')])]", smart_strings=False
)
MESSAGES = etree.XPath("//*[starts-with(@id, 'message') or starts-with(@id, 'postmessage_')]")


def test_texts_outside_message_are_what_the_xpath_finds():
    """Each post as the thread parser finds it (the legacy ones too), each message, what holds
    it and what it holds first: those inside a message, and the messages, have none."""
    checked = empty = 0
    for path, root in _pages():
        elements = [*(post for _, post in thread._post_roots(root, choose(root, "http://127.0.0.1:8080/", ())))]
        for message in MESSAGES(root):
            elements += [message, message.getparent(), *message[:1]]
        for element in elements:
            expected = TEXTS_OUTSIDE_MESSAGE(element)
            assert list(thread.texts_outside_message(element)) == expected, (path.name, element.get("id"))
            checked += 1
            empty += not expected
    assert checked > 1000 and empty > 300
    # Deeper than Python recurses (lxml keeps 2,000 levels of a huge tree).
    deep = '<div id="post_1">' + "<div>a" * 3000 + '<!--c-->t<span id="message1">m<b>x</b></span>tail' + "</div>z" * 3000
    post = html_page._html_tree(f"<html><body>{deep}</div></body></html>").find(".//div")
    assert list(thread.texts_outside_message(post)) == TEXTS_OUTSIDE_MESSAGE(post)


ATTACHMENT_PARTS = etree.XPath(
    "descendant::a[contains(@href, 'mod=attachment') or contains(@href, 'attachment.php?aid=')]"
    f" | descendant::div[{_class('pattl')}]"
)


def _finds_on_every_page_and_post(walk, search) -> int:
    """Hold ``walk`` to ``search`` on every page and post; how many elements they found."""
    found = 0
    for path, root in _pages():
        for element in [root, *(post for _, post in thread_extras._posts(root))]:
            assert walk(element) == search(element), path.name
            found += len(search(element))
    return found


def test_attachment_parts_are_what_the_xpath_finds():
    found = _finds_on_every_page_and_post(attachments.attachment_parts, ATTACHMENT_PARTS)
    for markup in ('<div class="pattl">', '<div class="x\tpattl">', '<div class="pattlx">', '<p class="pattl">',
                   '<a href="forum.php?mod=attachment&amp;aid=1">', '<a href="attachment.php?aid=2">', '<a>'):
        root = etree.fromstring(f"<html><body><div>{markup}x</div></body></html>", etree.HTMLParser())
        assert attachments.attachment_parts(root) == ATTACHMENT_PARTS(root), markup
    assert found > 200


def test_attach_blocks_are_what_the_xpath_finds():
    found = _finds_on_every_page_and_post(attachments.attach_blocks, ATTACH_BLOCKS)
    src = "forum.php?mod=attachment&amp;aid=Mnw"
    for outer in ("", "<ignore_js_op>", '<dl class="x tattl">', '<dl class="tattlx">', '<span id="attach_3">',
                  '<span id="attachx">'):
        for inner in (f'<img src="{src}">', '<img src="attachment.php?aid=4">', '<img src="x.png">',
                      '<dl class="tattl">', '<span id="attach_5">', "<ignore_js_op>"):
            root = etree.fromstring(f"<html><body><div>{outer}<p>{inner}x</p></div></body></html>", etree.HTMLParser())
            for element in [root, *root.iter("p")]:
                assert attachments.attach_blocks(element) == ATTACH_BLOCKS(element), (outer, inner)
    assert found > 400


def test_each_element_above_the_blocks_links_and_images_is_tested_once(monkeypatch):
    """A block's links are each walked up to the span#attach_ that may hold them, and a post's
    attachment images up to a block that may hold them: a hostile page nests them deep and
    many, and an element on the way is tested once for all of them, not once for each (the
    walks, tested again for each, were cubic in nested blocks where the XPath was quadratic)."""
    tested = []
    for name in ("_is_attach_span", "_holds_images"):
        test = getattr(attachments, name)
        monkeypatch.setattr(attachments, name, lambda element, test=test: tested.append(element) or test(element))
    # Discuz's markup for a file and for an image known by its address, nested 1,500 deep.
    link = '<a href="forum.php?mod=attachment&amp;aid=MTF8YjQ2ZDc0NmV8MTcxMjM4NDc0Mnwx" target="_blank">f.zip</a>'
    img = '<img src="forum.php?mod=attachment&amp;aid=MTJ8YjQ2ZDc0NmV8MTcxMjM4NDc0Mnwx" />'
    deep = ('<ignore_js_op><span id="attach_11">' + "<span>" * 1500 + link * 1500 + "</span></ignore_js_op>"
            + "<div>" * 1500 + img * 1500)
    root = html_page._html_tree(f'<html><body><div id="post_1"><div id="postmessage_1">{deep}</div></div></body></html>')
    post = root.find(".//div")
    blocks = attachments.attach_blocks(post)
    assert blocks == ATTACH_BLOCKS(post) and len(blocks) == 1501
    name_places = etree.XPath(XPATHS["name_places"])
    assert [attachments._BlockParts(block).name_places for block in blocks] == [name_places(block) for block in blocks]
    assert len(tested) <= sum(1 for _ in root.iter())


def _uploaded_by_each_text(texts):
    """What attachments._uploaded finds, by a search of each text."""
    holding = " ".join(squash(text) for text in texts if attachments._UPLOAD_WORD.search(text))
    return attachments._UPLOADED.search(holding)


def test_upload_time_is_read_from_the_texts_that_hold_the_word():
    shown = 0
    for path, root in _pages():
        for _, post in thread_extras._posts(root):
            for block in ATTACH_BLOCKS(post):
                texts = block.xpath(".//text()", smart_strings=False)
                found = attachments._uploaded(texts, " ".join(texts))
                expected = _uploaded_by_each_text(texts)
                assert (found and found[0]) == (expected and expected[0]), path.name
                shown += found is not None
    # the word once, twice in a text, in several, at a text's start or end, in any case
    for texts in (["2018-9-4 13:45 上传"], ["上传", " 2019-1-2 3:04 上傳 x"], ["a", "UPLOAD", "b upload upload"],
                  ["\n", "上传", "\n\n"], ["upl", "oad"], ["x上传", "", "y Upload"], []):
        found = attachments._uploaded(texts, " ".join(texts))
        expected = _uploaded_by_each_text(texts)
        assert (found and found[0]) == (expected and expected[0]), texts
    assert shown > 200


def test_tags_are_what_the_xpath_finds():
    def by_walk(root):
        return thread_extras._tags(root, thread_extras._first_post_parts(root)[1])

    found = 0
    for path, root in _pages():
        for element in [root, *(post for _, post in thread_extras._posts(root))]:
            assert by_walk(element) == thread_extras._tags(element), path.name
            found += len(thread_extras._tags(element))
    tag = '<a href="misc.php?mod=tag&amp;id={0}" title="t{0}">t{0}</a>'
    for outer in ("<div>", '<div class="ptg mbm">', '<div class="ptgx">', '<p class="ptg">'):
        for inner in ("", '<div class="ptg">' + tag.format(2) + "</div>", '<div class="\tptg">' + tag.format(3) + "</div>"):
            root = etree.fromstring(f"<html><body><div>{outer}{tag.format(1)}{inner}</div></div></body></html>", etree.HTMLParser())
            assert by_walk(root) == thread_extras._tags(root), (outer, inner)
    assert found > 20


def test_upload_and_price_words_are_only_in_ascii_cases():
    """attachments._uploaded's test of the English word with ``in`` on the lowered text: what
    _UPLOAD_WORD's re.I finds of it, no other character matching one of its letters, and no
    other character lowering to one; and _attachment's look for a c before _PRICE's search."""
    every = "".join(map(chr, range(0x110000)))
    for letter in "uploadc":
        assert re.findall(letter, every, re.I) == [letter.upper(), letter]
    assert not set(every[128:].lower()) & set("upload")


def test_posts_read_from_the_ids_are_what_the_xpaths_find():
    found = 0
    for path, root in _pages():
        assert thread_extras._posts(root, PageIds(root)) == thread_extras._posts(root), path.name
        found += len(thread_extras._posts(root))
    for children in ('<div id="post_1">a</div><p id="post_2">b</p><div id="post_3x">c</div><div id="post_">d</div>',
                     '<div id="post_\uff14">e</div><div id="post_05">f</div><!-- c --><div><div id="post_6">g</div></div>',
                     '<div id="pid7">h</div>', ""):
        for markup in (f'<div id="postlist">{children}</div>', f'<div id="postlist"></div><div id="postlist">{children}</div>',
                       f'<table id="postlist"><tr><td>{children}</td></tr></table>', children):
            root = etree.fromstring(f"<html><body>{markup}</body></html>", etree.HTMLParser())
            assert thread_extras._posts(root, PageIds(root)) == thread_extras._posts(root), markup
    assert found > 300
