"""Anti-copy noise: element-level removal and the plain-text cleaner."""

from pathlib import Path

from lxml import html

from scraper.content import extract_message, fragment_root
from scraper.noise import clean_text, looks_like_noise, remove_noise_elements

SEED = Path(__file__).parent / "fixtures/seed/laomi-office-director-thread.txt"
NOISE = "! v9 M2 ~0 p0 T% ?: \\2 A"


def test_seed_text_comes_out_clean_and_otherwise_unchanged():
    dirty = SEED.read_text(encoding="utf-8")
    assert "非常值得好好学习\n" + NOISE + "一下" in dirty
    clean = clean_text(dirty)
    assert "非常值得好好学习\n一下" in clean
    assert not looks_like_noise(clean)
    # exactly the noise went: put it back and the text is what it was
    assert clean.replace("非常值得好好学习\n一下", "非常值得好好学习\n" + NOISE + "一下") == dirty


def test_text_cleaner_leaves_real_ascii_alone():
    for text in ["Python 3.12 下测试通过", "A. 约1.0路飞！", "call 110 or 120 now", "x = a ? b : c;"]:
        assert clean_text(text) == text


def text_of(markup: str) -> str:
    return extract_message(fragment_root(markup), "http://127.0.0.1/").text


def test_both_x3_wrappers_go_and_text_between_them_stays():
    # real markup from the sample forum (thread 1, pid 1), two noise elements in a row
    markup = (
        "如何当好办公室主任。<br />\n"
        '<span style="display:none">0 x/ V; B6 L$ M& W1 g( L7 F</span>'
        '<font class="jammer">1 b- o. z$ ~2 S</font><br />\n'
        "<strong>一、主次分明</strong><br />\n"
        '<span style="display:none">&nbsp;&nbsp;Y% D" @" H+ {& d9 ~</span>中间的字'
        '<font class="jammer"># k. B" L2 h4 J; y; o</font>'
    )
    assert text_of(markup) == "如何当好办公室主任。\n\n一、主次分明\n中间的字"


def test_display_none_in_any_spacing_or_case():
    for style in ["display:none", "DISPLAY: NONE", "display : none;", "color:red; display:none"]:
        assert text_of(f'前<span style="{style}">5 Q; S# U& V! |) b4 O, S</span>后') == "前后"


def test_discuz7_zero_size_font_even_with_real_keywords_inside():
    # Discuz 7 may put the site's own keywords in the noise: judged by markup, not text
    markup = '正文<font style="font-size:0px;color:#F7F7F7">公文写作网 3 z: q: S\' `# M. l</font>继续'
    assert text_of(markup) == "正文继续"


def test_visible_font_tags_are_kept():
    assert text_of('<font color="red">作者</font>的话<font size="0">小字</font>') == "作者的话小字"


def test_noise_inside_quotes_and_code_goes_too():
    markup = (
        '<div class="quote"><blockquote><font size="2"><a href="forum.php?mod=redirect&goto=findpost&pid=157&ptid=16">'
        '<font color="#999999">老猫笔记 发表于 2015-7-1 09:12</font></a></font>'
        '<font class="jammer">. n5 g" s( k" d; Y" T( L</font><br />\n关于“息事”。</blockquote></div>赞同，学习了。'
    )
    message = extract_message(fragment_root(markup), "http://127.0.0.1:8080/")
    assert message.text == "> 老猫笔记 发表于 2015-7-1 09:12\n> 关于“息事”。\n\n赞同，学习了。"
    assert message.quote_pid == 157


def test_remove_noise_elements_counts_and_keeps_tails():
    root = html.fromstring('<div>a<font class="jammer">1 b- o. z$ ~2 S</font>b<span style="display:none">x</span>c</div>')
    assert remove_noise_elements(root) == 2
    assert root.text_content() == "abc"
