"""HTML and feed text → clean, single-line plain text safe to store and show to readers.

This module owns every rule about what a story's visible text may contain: tags
stripped (with nh3, a real HTML parser, never a regex), entities decoded,
control characters removed, whitespace folded and length capped on a word
boundary. It is pure: strings in, strings out.
"""

from __future__ import annotations

import html
import re

import nh3

ELLIPSIS = "…"

# Block-level elements whose boundaries separate words. nh3 drops the tags but
# not the gap they imply, so "<p>a</p><p>b</p>" would otherwise read "ab".
_BLOCK_TAGS = (
    "address|article|aside|blockquote|br|caption|dd|details|div|dl|dt|figcaption|figure|"
    "footer|h[1-6]|header|hr|img|li|main|nav|ol|p|pre|section|summary|table|tbody|td|tfoot|"
    "th|thead|title|tr|ul"
)
_BLOCK_TAG_RE = re.compile(rf"(</?(?:{_BLOCK_TAGS})(?=[\s/>]))", re.IGNORECASE)

# Content dropped with its tag; nh3 already does script and style, the rest are
# never reader-visible text either.
_DROP_CONTENT_TAGS = frozenset({"script", "style", "template", "noscript", "iframe", "object"})

# After one decoding pass, these mean the source HTML was escaped twice
# ("&lt;p&gt;Hello&lt;/p&gt;" or "&amp;quot;"). Only well-known tag names count,
# so plain text such as "if a<b and c>d" is not mistaken for markup.
_KNOWN_TAGS = (
    r"a|b|i|u|p|br|div|span|em|strong|img|ul|ol|li|h[1-6]|table|tr|td|th|"
    r"blockquote|figure|figcaption|iframe|script|style|html|body|head|title|font|small|"
    r"sup|sub|pre|code|hr|section|article|header|footer|nav"
)
_ENTITY = r"&(?:lt|gt|amp|quot|apos|nbsp|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});"
_LEFTOVER_TAG_RE = re.compile(rf"<(?:!--|/?(?:{_KNOWN_TAGS})(?=[\s/>]))", re.IGNORECASE)
_LEFTOVER_ENTITY_RE = re.compile(_ENTITY, re.IGNORECASE)
# Text declared plain that holds HTML all the same (a CMS pasting an excerpt into a JSON
# Feed summary): a closing tag of a well-known element, a <br>, <hr> or <img>, or an entity.
# An opening tag alone proves nothing: "if a<b and c>d" is plain text.
_HTML_EVIDENCE_RE = re.compile(
    rf"</(?:{_KNOWN_TAGS})\s*>|<(?:br|hr|img)\b[^<>]*>|{_ENTITY}", re.IGNORECASE
)
_MAX_DECODE_PASSES = 3

# Characters removed outright. Whitespace controls (tab, newline, CR, VT, FF,
# NEL) are *not* here: they become spaces so words on either side stay apart.
# - C0/C1 controls and DEL: invisible, and NUL is rejected by PostgreSQL.
# - Lone surrogates: cannot be encoded as UTF-8 (Telegram and the database refuse them).
# - U+FEFF (BOM) and noncharacters U+FFFE/U+FFFF: debris from bad decoding.
# - Bidi embeddings/overrides/isolates (U+202A–U+202E, U+2066–U+2069): an unbalanced
#   one in a title bleeds into the rest of the bot's message. LRM/RLM/ALM and
#   ZWNJ/ZWJ are kept: Sorani, Persian and Arabic spelling and emoji need them.
_REMOVED_CHARS_RE = re.compile(
    "[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufeff\ufffe\uffff"
    "\u202a-\u202e\u2066-\u2069]"
)
_SPACE_CONTROLS_RE = re.compile("[\t\n\v\f\r\x85]")

# Characters not worth keeping right before the ellipsis.
_TRAILING_JUNK = " \u200c\u200d,;:-–—(['\"«"

# Cap on HTML fed to the sanitiser: a hostile multi-megabyte summary should cost
# little, and no reader sees more than a few hundred characters of it.
_MAX_HTML_INPUT = 200_000


def clean_plain(text: str, max_length: int) -> str:
    """Return ``text`` (already plain) with controls removed, whitespace folded, capped."""
    text = _SPACE_CONTROLS_RE.sub(" ", text)
    text = _REMOVED_CHARS_RE.sub("", text)
    text = " ".join(text.split())
    return truncate_words(text, max_length)


def html_to_text(fragment: str, max_length: int) -> str:
    """Return the reader-visible text of an HTML fragment as one clean, capped line."""
    text = _html_pass(fragment[:_MAX_HTML_INPUT])
    for _ in range(_MAX_DECODE_PASSES - 1):
        if not (_LEFTOVER_TAG_RE.search(text) or _LEFTOVER_ENTITY_RE.search(text)):
            break
        text = _html_pass(text)
    return clean_plain(text, max_length)


def looks_like_html(text: str) -> bool:
    """Say whether text declared plain holds HTML (a closing tag, a line break, an entity)."""
    return _HTML_EVIDENCE_RE.search(text) is not None


def truncate_words(text: str, max_length: int) -> str:
    """Return ``text`` cut to at most ``max_length`` characters, on a word boundary, with "…"."""
    if max_length < 1:
        raise ValueError(f"max_length must be at least 1, got {max_length}")
    if len(text) <= max_length:
        return text
    head = text[: max_length - 1]
    cut = head.rfind(" ")
    # Cut inside a word: back up to the last space, unless that loses more than
    # half (one giant word, or CJK text without spaces), where a hard cut is kinder.
    if not text[max_length - 1].isspace() and cut > max_length // 2:
        head = head[:cut]
    return head.rstrip(_TRAILING_JUNK) + ELLIPSIS


def _html_pass(fragment: str) -> str:
    """Strip all tags once and decode entities (nh3 re-escapes &, < and > in its output)."""
    spaced = _BLOCK_TAG_RE.sub(r" \1", fragment)
    stripped = nh3.clean(spaced, tags=set(), clean_content_tags=set(_DROP_CONTENT_TAGS))
    return html.unescape(stripped)
