"""Tests for news.plain_text: HTML and feed strings → clean, capped, single-line text."""

from __future__ import annotations

import pytest

from news.plain_text import ELLIPSIS, clean_plain, html_to_text, truncate_words


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("<p>Hello</p><p>world</p>", "Hello world"),
        ("one<br>two<br/>three<BR />four", "one two three four"),
        ("<ul><li>Erbil</li><li>Duhok</li></ul>", "Erbil Duhok"),
        ("<h1>Title</h1><div>Body</div>", "Title Body"),
        ("<table><tr><td>a</td></tr><tr><td>b</td></tr></table>", "a b"),
        ("<blockquote>quote</blockquote>after", "quote after"),
        ("in<b>line</b> tags <em>do not</em> split", "inline tags do not split"),
    ],
)
def test_html_to_text_separates_words_at_block_boundaries(fragment: str, expected: str) -> None:
    assert html_to_text(fragment, 1000) == expected


def test_html_to_text_drops_script_and_style_content() -> None:
    fragment = "a<script>alert('x')</script>b<style>p { color: red }</style>c"
    assert html_to_text(fragment, 1000) == "abc"


def test_html_to_text_drops_comments_and_attributes() -> None:
    fragment = '<!-- <script>x</script> --><a href="javascript:alert(1)" onclick="x()">link</a>'
    assert html_to_text(fragment, 1000) == "link"


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("AT&amp;T &quot;quoted&quot; &#8220;curly&#8221; &nbsp;gap", 'AT&T "quoted" “curly” gap'),
        ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
        ("bare & ampersand", "bare & ampersand"),
        ("&doesnotexist; stays", "&doesnotexist; stays"),
    ],
)
def test_html_to_text_decodes_entities_once_nh3_re_escaped_them(
    fragment: str, expected: str
) -> None:
    assert html_to_text(fragment, 1000) == expected


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        ("&lt;p&gt;Hello&lt;/p&gt;", "Hello"),
        ("&amp;lt;p&amp;gt;Hello&amp;lt;/p&amp;gt;", "Hello"),
        ("<p>&lt;b&gt;Bold&lt;/b&gt; news</p>", "Bold news"),
        ("Quote: &amp;quot;yes&amp;quot;", 'Quote: "yes"'),
        ("&lt;script&gt;alert(1)&lt;/script&gt;Safe", "Safe"),
    ],
)
def test_html_to_text_unwraps_double_encoded_html(fragment: str, expected: str) -> None:
    assert html_to_text(fragment, 1000) == expected


def test_html_to_text_leaves_comparisons_in_decoded_text_alone() -> None:
    # "<" followed by a space or digit is not markup, even after a second pass.
    assert html_to_text("x &lt; 3 &amp;&amp; y &gt; 4 &amp;amp;", 1000) == "x < 3 && y > 4 &"


def test_html_to_text_keeps_sorani_letters_and_zwnj() -> None:
    fragment = "<p>هەواڵە\u200cکانی</p><p>کوردستان</p>"
    assert html_to_text(fragment, 1000) == "هەواڵە\u200cکانی کوردستان"


def test_html_to_text_caps_length() -> None:
    fragment = "<p>" + " ".join(["word"] * 100) + "</p>"
    text = html_to_text(fragment, 22)
    assert text == "word word word word…"
    assert len(text) <= 22


def test_clean_plain_keeps_markup_characters_literally() -> None:
    assert clean_plain("Use <b> & co", 300) == "Use <b> & co"
    assert clean_plain("&amp; stays encoded", 300) == "&amp; stays encoded"


def test_clean_plain_folds_whitespace_and_turns_line_breaks_into_spaces() -> None:
    assert clean_plain("  one\ttwo\r\nthree\u00a0four\u2003five\x85six  ", 300) == (
        "one two three four five six"
    )


def test_clean_plain_removes_c0_and_c1_controls_without_gluing_words() -> None:
    assert clean_plain("nul\x00 bell\x07 esc\x1b del\x7f c1\x92 c1\x9f end", 300) == (
        "nul bell esc del c1 c1 end"
    )


def test_clean_plain_removes_bom_surrogates_and_bidi_overrides() -> None:
    text = "\ufeffstart \ud800lone \u202eoverride\u202c \u2066isolate\u2069 end"
    assert clean_plain(text, 300) == "start lone override isolate end"


def test_clean_plain_keeps_joiners_and_direction_marks() -> None:
    text = "\u200fکورد\u200cی \u200eLTR\u200e \u061c ZWJ:\u200d"
    assert clean_plain(text, 300) == text


def test_truncate_words_leaves_short_text_alone() -> None:
    assert truncate_words("short", 5) == "short"


def test_truncate_words_cuts_on_a_word_boundary() -> None:
    text = "The quick brown fox jumps over the lazy dog"
    assert truncate_words(text, 20) == "The quick brown fox" + ELLIPSIS
    assert truncate_words(text, 19) == "The quick brown" + ELLIPSIS
    assert truncate_words(text, 18) == "The quick brown" + ELLIPSIS


def test_truncate_words_cuts_hard_inside_one_giant_word() -> None:
    assert truncate_words("x" * 50, 10) == "x" * 9 + ELLIPSIS


def test_truncate_words_drops_trailing_punctuation_before_the_ellipsis() -> None:
    assert truncate_words("Erbil, Duhok, Sulaimani and Halabja", 15) == "Erbil, Duhok" + ELLIPSIS


def test_truncate_words_rejects_a_non_positive_cap() -> None:
    with pytest.raises(ValueError, match="max_length"):
        truncate_words("text", 0)


@pytest.mark.parametrize("max_length", [1, 2, 5, 99, 100, 1000])
def test_results_never_exceed_the_cap(max_length: int) -> None:
    text = "کوردستان " * 300
    assert len(clean_plain(text, max_length)) <= max_length
    assert len(html_to_text(f"<p>{text}</p>", max_length)) <= max_length
