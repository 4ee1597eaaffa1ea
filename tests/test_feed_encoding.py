"""Tests for news.feed_encoding: which documents are UTF-8, and how broken bytes are mended."""

from __future__ import annotations

import codecs

import pytest

from news.feed_encoding import MIN_VALID_PER_INVALID, utf8_repaired

SORANI = "هەواڵی کوردستان"
PROLOG_UTF8 = b'<?xml version="1.0" encoding="utf-8"?>'


def _document(text: str, *, prolog: bytes = PROLOG_UTF8, stray: bytes = b"\xff") -> bytes:
    """An RSS document holding ``text`` as UTF-8, each "|" in it replaced by ``stray``."""
    body = f"<rss version='2.0'><channel><title>{text}</title></channel></rss>".encode()
    return prolog + body.replace(b"|", stray)


def _title(body: bytes) -> str:
    text = body.decode("utf-8")  # strict: a repaired document must be clean UTF-8
    return text.split("<title>", 1)[1].split("</title>", 1)[0]


# --- what is mended, and how --------------------------------------------------------------


def test_valid_utf8_is_left_exactly_as_it_was() -> None:
    body = _document(SORANI)
    document = utf8_repaired(body, "application/rss+xml")
    assert (document.body, document.content_type, document.replaced_bytes) == (
        body,
        "application/rss+xml",
        0,
    )


@pytest.mark.parametrize(
    ("stray", "replaced"),
    [
        (b"\xdb", 1),  # the first byte of ێ, its second byte lost (a text cut mid-character)
        (b"\xe2\x80", 2),  # two of the three bytes of "’": still one character, one U+FFFD
        (b"\x92", 1),  # windows-1252's "’" pasted into a UTF-8 document
        (b"\xa0", 1),  # a lone continuation byte
        (b"\xfe", 1),  # windows-1254's "ş", a byte UTF-8 never uses
        (b"\xc0\xaf", 2),  # an overlong "/": two invalid bytes, two U+FFFD
    ],
    ids=["truncated", "truncated-3-byte", "cp1252-quote", "continuation", "cp1254", "overlong"],
)
def test_each_broken_sequence_becomes_u_fffd_and_nothing_else_changes(
    stray: bytes, replaced: int
) -> None:
    document = utf8_repaired(_document(f"{SORANI} |{SORANI}", stray=stray), None)
    fffd = "\ufffd" * (2 if stray == b"\xc0\xaf" else 1)
    assert _title(document.body) == f"{SORANI} {fffd}{SORANI}"
    assert document.replaced_bytes == replaced


def test_a_u_fffd_the_feed_already_had_is_not_counted() -> None:
    document = utf8_repaired(_document(f"{SORANI} \ufffd |"), None)
    assert _title(document.body) == f"{SORANI} \ufffd \ufffd"
    assert document.replaced_bytes == 1


def test_a_mended_document_is_labelled_utf8_in_header_and_prolog() -> None:
    # The header's UTF-8 outranks the prolog's windows-1252 (RFC 7303): the prolog is fixed,
    # so feedparser cannot pick windows-1252 from it whatever the media type.
    body = _document(f"{SORANI}|", prolog=b"<?xml version='1.0' encoding='windows-1252' ?>")
    document = utf8_repaired(body, "text/xml; charset=UTF-8; format=flowed")
    assert document.body.startswith(b"<?xml version='1.0' encoding='utf-8' ?><rss")
    assert document.content_type == "text/xml; charset=utf-8"
    assert document.replaced_bytes == 1


def test_an_undeclared_media_type_becomes_application_xml_in_utf8() -> None:
    document = utf8_repaired(_document(f"{SORANI}|", prolog=b""), None)
    assert document.content_type == "application/xml; charset=utf-8"
    assert _title(document.body) == f"{SORANI}\ufffd"


# --- which documents are UTF-8 ------------------------------------------------------------


@pytest.mark.parametrize(
    ("prolog", "content_type"),
    [
        (PROLOG_UTF8, None),
        (b"<?xml version='1.0' encoding='UTF8'?>", "application/rss+xml"),
        (b"", "application/rss+xml; charset=utf-8"),
        (b"", 'application/xml; charset="UTF-8"'),
        (PROLOG_UTF8, "text/xml"),  # RFC 3023's us-ascii default is what nobody means
        (b"<?xml version='1.0' encoding='iso-8859-1'?>", "text/html; charset=utf-8"),
        (codecs.BOM_UTF8 + PROLOG_UTF8, None),
        (codecs.BOM_UTF8, "application/rss+xml; charset=iso-8859-1"),  # the BOM outranks both
        (b'<?xml version="1.0" encoding="utf-16"?>', None),  # impossible: read as ASCII
        (b"", None),  # XML's default
        (b"", "text/xml"),
        (b'<?xml version="1.0"?>', "application/octet-stream"),
    ],
    ids=[
        "prolog",
        "prolog-utf8-alias",
        "header",
        "quoted-header",
        "text-xml-and-prolog",
        "header-over-prolog",
        "bom-and-prolog",
        "bom-over-header",
        "utf16-label-on-ascii-bytes",
        "undeclared",
        "undeclared-text-xml",
        "prolog-without-encoding",
    ],
)
def test_documents_declared_or_defaulting_to_utf8_are_mended(
    prolog: bytes, content_type: str | None
) -> None:
    document = utf8_repaired(_document(f"{SORANI}|", prolog=prolog), content_type)
    assert document.replaced_bytes == 1
    assert _title(document.body) == f"{SORANI}\ufffd"


@pytest.mark.parametrize(
    ("prolog", "content_type"),
    [
        (b"<?xml version='1.0' encoding='windows-1252'?>", None),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?>', "text/xml"),
        (PROLOG_UTF8, "application/rss+xml; charset=windows-1256"),  # the header outranks
        (b"", "text/xml; charset=iso-8859-9"),
        (b'<?xml version="1.0" encoding="no-such-charset"?>', None),
    ],
    ids=["prolog", "prolog-text-xml", "header-over-prolog", "header", "unknown-label"],
)
def test_documents_declared_in_another_encoding_are_left_to_feedparser(
    prolog: bytes, content_type: str | None
) -> None:
    body = _document(f"{SORANI}|", prolog=prolog)
    document = utf8_repaired(body, content_type)
    assert (document.body, document.content_type, document.replaced_bytes) == (
        body,
        content_type,
        0,
    )


def test_utf16_is_left_to_feedparser() -> None:
    body = codecs.BOM_UTF16_LE + "<rss><channel><title>ڕووداو</title></channel></rss>".encode(
        "utf-16-le"
    )
    assert utf8_repaired(body, None).body is body


# --- the rule for a document that says UTF-8 but may be something else --------------------


def test_windows_1252_throughout_keeps_the_fallback() -> None:
    title = "Erbil’s “old” café — Größe, façade, señor"
    body = PROLOG_UTF8 + f"<rss><channel><title>{title}</title></channel></rss>".encode("cp1252")
    assert utf8_repaired(body, "application/rss+xml; charset=utf-8").body is body


def test_mended_only_when_valid_characters_outnumber_broken_ones_enough() -> None:
    assert MIN_VALID_PER_INVALID == 3
    enough = _document("ê ê ê |", prolog=b"")
    too_few = _document("ê ê |", prolog=b"")
    assert utf8_repaired(enough, None).replaced_bytes == 1
    assert utf8_repaired(too_few, None).body is too_few
    # Four broken bytes need twelve valid characters.
    assert utf8_repaired(_document("ê" * 12 + "||||", prolog=b""), None).replaced_bytes == 4
    assert utf8_repaired(_document("ê" * 11 + "||||", prolog=b""), None).replaced_bytes == 0


def test_ascii_with_one_stray_byte_keeps_the_fallback() -> None:
    # Nothing valid to protect: windows-1252 may well read the byte as the "é" it was.
    body = _document("Cafe| in Erbil", stray=b"\xe9")
    assert utf8_repaired(body, None).body is body


def test_a_utf8_bom_is_decisive() -> None:
    body = codecs.BOM_UTF8 + _document("Espa|a", stray=b"\xf1")
    document = utf8_repaired(body, None)
    assert document.body.startswith(codecs.BOM_UTF8)
    assert _title(document.body[3:]) == "Espa\ufffda"
    assert document.replaced_bytes == 1
