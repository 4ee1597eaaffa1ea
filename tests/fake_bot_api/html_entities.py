"""Telegram's HTML parse mode: plain text plus Bot API entities, or the error Telegram gives.

A port of TDLib's ``parse_html`` (td/telegram/MessageEntity.cpp), which is what the Bot API
server runs for ``parse_mode=HTML``. It works on the Python string instead of UTF-8 bytes (every
piece of syntax is ASCII, so the two walks agree) and converts positions to byte offsets only for
error messages, which Telegram reports in UTF-8 bytes. Entity offsets and lengths are in UTF-16
code units, like the Bot API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "EntityParseError",
    "UserLookup",
    "byte_offset",
    "check_url",
    "parse_html",
    "sort_entities",
    "utf16_len",
]

# TDLib's is_space(); NUL is included because TDLib walks a NUL-terminated buffer.
_SPACES = frozenset(" \t\r\n\0\v\f")
_SPACES_OR_GT = _SPACES | {">"}
_SPACES_OR_EQ = _SPACES | {"=", ">"}
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_TOKEN = _ASCII_ALNUM | {".", "-"}
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_ASCII_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_SIMPLE_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
}
# TDLib's sort order for entities that start at the same offset with the same length.
_TYPE_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "text_mention": 49,
    "mention": 50,
    "hashtag": 50,
    "cashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "phone_number": 50,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_SPECIAL = re.compile(r"[<&]")
_INT64_MAX = 2**63 - 1


class EntityParseError(ValueError):
    """The text cannot be parsed; ``reason`` is TDLib's wording, without the API prefix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def byte_offset(text: str, index: int) -> int:
    """UTF-8 byte offset of the character at ``index``, as Telegram's error messages count."""
    return len(text[:index].encode("utf-8", "surrogatepass"))


def sort_entities(entities: list[dict[str, Any]]) -> None:
    """Order entities the way Telegram returns them (offset, then longest, then by type)."""
    entities.sort(key=lambda e: (e["offset"], -e["length"], _TYPE_PRIORITY.get(e["type"], 50)))


def check_url(url: str) -> tuple[str | None, str]:
    """Validate a link like TDLib's ``check_link``: ``(normalized_url, "")`` or ``(None, reason)``.

    Schemeless links get ``http://``; only http, https, tg and ton links are allowed; web links
    need a host with a dot. A bare host gets a trailing slash, as Telegram returns it.
    """
    if not url.strip():
        return None, "URL host is empty"
    if any(c in _SPACES for c in url):
        return None, "Wrong HTTP URL"
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "http", url
        url = "http://" + url
    scheme = scheme.lower()
    if scheme in ("tg", "ton"):
        return (url, "") if rest else (None, "Wrong URL")
    if scheme not in ("http", "https"):
        return None, "Unsupported URL protocol"
    host_end = len(rest)
    for sep_char in "/?#":
        pos = rest.find(sep_char)
        if pos != -1:
            host_end = min(host_end, pos)
    host = rest[:host_end].rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if not host:
        return None, "URL host is empty"
    if "." not in host or host.startswith(".") or ".." in host:
        return None, "Wrong HTTP URL"
    if host_end == len(rest):
        url += "/"
    return url, ""


def _decode_entity(s: str, pos: int) -> tuple[str | None, int]:
    """TDLib's decode_html_entity: the character and the position after it, or ``(None, pos)``.

    Only ``&lt; &gt; &amp; &quot;`` and numeric references are decoded; the ``;`` is optional.
    Anything else is not an error: Telegram keeps the ``&`` as a literal character.
    """
    end = pos + 1
    code = 0
    if s[end] == "#":
        end += 1
        if s[end] == "x":
            end += 1
            while s[end] in _HEX:
                code = code * 16 + int(s[end], 16)
                end += 1
        else:
            while s[end] in _DIGITS:
                code = code * 10 + ord(s[end]) - 48
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return None, pos
    else:
        while s[end] in _ASCII_ALPHA:
            end += 1
        name = s[pos + 1 : end]
        code = {"lt": 60, "gt": 62, "amp": 38, "quot": 34}.get(name, 0)
        if not code:
            return None, pos
    if s[end] == ";":
        end += 1
    return chr(code), end


class _OpenTag:
    __slots__ = ("argument", "name", "out_index", "utf16_offset")

    def __init__(self, name: str, argument: str, utf16_offset: int, out_index: int) -> None:
        self.name = name
        self.argument = argument
        self.utf16_offset = utf16_offset
        self.out_index = out_index


def _tag_argument(tag_name: str, attr_name: str, value: str, current: str) -> str:
    """The one attribute each tag cares about; other attributes are ignored, like TDLib does."""
    if tag_name == "a" and attr_name == "href":
        return value
    if tag_name == "code" and attr_name == "class" and value.startswith("language-"):
        return value[9:]
    if tag_name == "span" and attr_name == "class" and value.startswith("tg-"):
        return value[3:]
    if tag_name == "tg-emoji" and attr_name == "emoji-id":
        return value
    if tag_name == "blockquote" and attr_name == "expandable":
        return "1"
    return current


UserLookup = Callable[[int], "dict[str, Any] | None"]


def parse_html(
    text: str, *, user_lookup: UserLookup | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(plain_text, entities)``; raise :class:`EntityParseError`.

    ``user_lookup`` turns ``tg://user?id=N`` links into ``text_mention`` entities; links to
    users it does not know are dropped, as Telegram drops mentions of users the bot cannot see.
    """
    s = text + "\0"
    n = len(text)
    out: list[str] = []
    offset16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i = 0

    def fail(reason: str) -> EntityParseError:
        return EntityParseError(reason)

    while i < n:
        match = _SPECIAL.search(s, i, n)
        if match is None:
            chunk = s[i:n]
            out.append(chunk)
            offset16 += utf16_len(chunk)
            break
        j = match.start()
        if j > i:
            chunk = s[i:j]
            out.append(chunk)
            offset16 += utf16_len(chunk)
            i = j
        if s[i] == "&":
            char, after = _decode_entity(s, i)
            if char is None:
                out.append("&")
                offset16 += 1
                i += 1
            else:
                out.append(char)
                offset16 += 2 if ord(char) > 0xFFFF else 1
                i = after
            continue

        begin = i
        i += 1
        if s[i] != "/":
            while s[i] not in _SPACES_OR_GT:
                i += 1
            if s[i] == "\0":
                raise fail(f"Unclosed start tag at byte offset {byte_offset(text, begin)}")
            tag_name = s[begin + 1 : i].lower()
            if tag_name not in _SUPPORTED_TAGS:
                raise fail(
                    f'Unsupported start tag "{tag_name}" at byte offset {byte_offset(text, begin)}'
                )
            argument = ""
            while s[i] != ">":
                while s[i] != "\0" and s[i] in _SPACES:
                    i += 1
                if s[i] == ">":
                    break
                attr_begin = i
                while s[i] not in _SPACES_OR_EQ:
                    i += 1
                attr_name = s[attr_begin:i]
                if not attr_name:
                    raise fail(
                        f'Empty attribute name in the tag "{tag_name}" '
                        f"at byte offset {byte_offset(text, begin)}"
                    )
                while s[i] != "\0" and s[i] in _SPACES:
                    i += 1
                if s[i] != "=":
                    if tag_name == "blockquote" and attr_name == "expandable" and s[i] != "\0":
                        argument = "1"
                        continue
                    if s[i] == "\0":
                        raise fail(
                            f'Unclosed start tag "{tag_name}" '
                            f"at byte offset {byte_offset(text, begin)}"
                        )
                    raise fail(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag_name}" at byte offset {byte_offset(text, begin)}'
                    )
                i += 1
                while s[i] != "\0" and s[i] in _SPACES:
                    i += 1
                if s[i] == "\0":
                    raise fail(
                        f'Unclosed start tag "{tag_name}" '
                        f"at byte offset {byte_offset(text, begin)}"
                    )
                if s[i] not in "'\"":
                    # A name token: letters, digits, periods or hyphens; not case-sensitive.
                    token_begin = i
                    while s[i] in _NAME_TOKEN:
                        i += 1
                    value = s[token_begin:i].lower()
                    if s[i] not in _SPACES_OR_GT:
                        raise fail(
                            "Unexpected end of name token at byte offset "
                            f"{byte_offset(text, token_begin)}"
                        )
                else:
                    quote = s[i]
                    i += 1
                    parts: list[str] = []
                    while s[i] != quote and s[i] != "\0":
                        if s[i] == "&":
                            char, after = _decode_entity(s, i)
                            if char is not None:
                                parts.append(char)
                                i = after
                                continue
                        parts.append(s[i])
                        i += 1
                    if s[i] == quote:
                        i += 1
                    value = "".join(parts)
                if s[i] == "\0":
                    raise fail(f"Unclosed start tag at byte offset {byte_offset(text, begin)}")
                argument = _tag_argument(tag_name, attr_name, value, argument)
            if tag_name == "span" and argument != "spoiler":
                raise fail(
                    'Tag "span" must have class "tg-spoiler" '
                    f"at byte offset {byte_offset(text, begin)}"
                )
            stack.append(_OpenTag(tag_name, argument, offset16, len(out)))
            i += 1
            continue

        # An end tag.
        if not stack:
            raise fail(f"Unexpected end tag at byte offset {byte_offset(text, begin)}")
        while s[i] not in _SPACES_OR_GT:
            i += 1
        end_tag_name = s[begin + 2 : i]
        while s[i] != "\0" and s[i] in _SPACES:
            i += 1
        if s[i] != ">":
            raise fail(f"Unclosed end tag at byte offset {byte_offset(text, begin)}")
        i += 1
        opened = stack.pop()
        if end_tag_name and end_tag_name != opened.name:
            raise fail(
                f"Unmatched end tag at byte offset {byte_offset(text, begin)}, "
                f'expected "</{opened.name}>", found "</{end_tag_name}>"'
            )
        if offset16 > opened.utf16_offset:
            entity = _closed_entity(opened, offset16, out, entities, user_lookup)
            if entity is not None:
                entities.append(entity)

    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    result = "".join(out)
    try:
        result.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(
            "Text contains invalid Unicode characters after decoding HTML entities, "
            "check for unmatched surrogate code units"
        ) from None
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    sort_entities(entities)
    return result, entities


def _closed_entity(
    opened: _OpenTag,
    offset16: int,
    out: list[str],
    entities: list[dict[str, Any]],
    user_lookup: UserLookup | None,
) -> dict[str, Any] | None:
    """The entity for a just-closed tag; ``None`` when Telegram silently drops it."""
    offset = opened.utf16_offset
    length = offset16 - offset
    name = opened.name
    simple = _SIMPLE_TYPES.get(name)
    if simple is not None or name == "span":
        return {"type": simple or "spoiler", "offset": offset, "length": length}
    if name == "tg-emoji":
        arg = opened.argument
        if not arg.isdigit() or not 0 < int(arg) <= _INT64_MAX:
            raise EntityParseError("Invalid custom emoji identifier specified")
        return {
            "type": "custom_emoji",
            "offset": offset,
            "length": length,
            "custom_emoji_id": str(int(arg)),
        }
    if name == "blockquote":
        kind = "expandable_blockquote" if opened.argument == "1" else "blockquote"
        return {"type": kind, "offset": offset, "length": length}
    if name == "a":
        url = opened.argument or "".join(out[opened.out_index :])
        user_id = _link_user_id(url)
        if user_id is not None:
            user = user_lookup(user_id) if user_lookup is not None else None
            if user is None:
                return None
            return {"type": "text_mention", "offset": offset, "length": length, "user": user}
        normalized, _reason = check_url(url)
        if normalized is None:
            return None
        return {"type": "text_link", "offset": offset, "length": length, "url": normalized}
    last = entities[-1] if entities else None
    same_span = last is not None and last["offset"] == offset and last["length"] == length
    if name == "pre":
        if same_span and last is not None and last["type"] == "code" and last.get("language"):
            last["type"] = "pre"
            return None
        return {"type": "pre", "offset": offset, "length": length}
    # name == "code"
    if same_span and last is not None and last["type"] == "pre" and opened.argument:
        last["language"] = opened.argument
        return None
    entity: dict[str, Any] = {"type": "code", "offset": offset, "length": length}
    if opened.argument:
        entity["language"] = opened.argument  # kept only if an enclosing <pre> claims it
    return entity


_USER_LINK = re.compile(r"tg://user\?id=(\d{1,19})$", re.IGNORECASE)


def _link_user_id(url: str) -> int | None:
    match = _USER_LINK.match(url)
    return int(match.group(1)) if match else None
