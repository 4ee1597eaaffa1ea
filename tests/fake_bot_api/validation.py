"""What the Bot API checks before it accepts text, keyboards, commands and inline results.

Pure functions over decoded parameters; each raises :class:`ApiError` with Telegram's own
description. Wording comes from TDLib / telegram-bot-api and from replies of the live API.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.fake_bot_api.errors import ApiError, bad_request
from tests.fake_bot_api.html_entities import (
    EntityParseError,
    UserLookup,
    check_url,
    parse_html,
    sort_entities,
    utf16_len,
)

__all__ = [
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "format_text",
    "scope_key",
    "validate_commands",
    "validate_inline_results",
    "validate_reply_markup",
]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
MAX_KEYBOARD_BUTTONS = 100
# TDLib trims only ASCII whitespace around message text.
_TRIM = " \t\r\n\v\f"

ENTITY_TYPES = frozenset(
    {
        "mention",
        "hashtag",
        "cashtag",
        "bot_command",
        "url",
        "email",
        "phone_number",
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "blockquote",
        "expandable_blockquote",
        "code",
        "pre",
        "text_link",
        "text_mention",
        "custom_emoji",
    }
)


def _entity_error(reason: str) -> ApiError:
    return bad_request(f"can't parse MessageEntity: {reason}")


def _check_entities(
    text: str, entities: Any, user_lookup: UserLookup | None
) -> list[dict[str, Any]]:
    """Explicit ``entities`` (no parse_mode) checked against ``text`` like telegram-bot-api."""
    if not isinstance(entities, list):
        raise bad_request("can't parse entities JSON object")
    size = utf16_len(text)
    checked: list[dict[str, Any]] = []
    for raw in entities:
        if not isinstance(raw, dict):
            raise _entity_error("expected an Object")
        for field in ("type", "offset", "length"):
            if field not in raw:
                raise _entity_error(f'Can\'t find field "{field}"')
        kind = raw["type"]
        if kind not in ENTITY_TYPES:
            raise _entity_error("Unsupported type specified")
        offset, length = raw["offset"], raw["length"]
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise _entity_error('Field "offset" must be a valid Number')
        if not isinstance(length, int) or isinstance(length, bool):
            raise _entity_error('Field "length" must be a valid Number')
        if offset < 0:
            raise bad_request(f"receive an entity with incorrect offset {offset}")
        if length < 0:
            raise bad_request(f"receive an entity with incorrect length {length}")
        if offset > size:
            raise bad_request(f"entity begins after the end of the text at UTF-16 offset {offset}")
        if offset + length > size:
            raise bad_request(
                f"entity beginning at UTF-16 offset {offset} ends after the end of the text "
                f"at UTF-16 offset {offset + length}"
            )
        entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
        if kind == "text_link":
            if "url" not in raw:
                raise _entity_error('Can\'t find field "url"')
            url = str(raw["url"])
            normalized, reason = check_url(url)
            if normalized is None:
                raise bad_request(f"entity URL '{url}' is invalid: {reason}")
            entity["url"] = normalized
        elif kind == "text_mention":
            user = raw.get("user")
            if not isinstance(user, dict):
                raise _entity_error('Can\'t find field "user"')
            found = user_lookup(user.get("id", 0)) if user_lookup is not None else None
            if found is None:
                raise bad_request("user not found")
            entity["user"] = found
        elif kind == "custom_emoji":
            if "custom_emoji_id" not in raw:
                raise _entity_error('Can\'t find field "custom_emoji_id"')
            emoji_id = str(raw["custom_emoji_id"])
            if not emoji_id.isdigit() or not 0 < int(emoji_id) < 2**63:
                raise _entity_error('Field "custom_emoji_id" must be a valid Number')
            entity["custom_emoji_id"] = emoji_id
        elif kind == "pre" and raw.get("language"):
            entity["language"] = str(raw["language"])
        if length > 0:
            checked.append(entity)
    sort_entities(checked)
    return checked


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip surrounding whitespace and move entities with the text, as Telegram does."""
    stripped = text.strip(_TRIM)
    if stripped == text:
        return text, entities
    lead16 = utf16_len(text[: len(text) - len(text.lstrip(_TRIM))])
    size = utf16_len(stripped)
    moved: list[dict[str, Any]] = []
    for entity in entities:
        start = max(0, entity["offset"] - lead16)
        end = min(size, entity["offset"] + entity["length"] - lead16)
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return stripped, moved


def format_text(
    text: str,
    parse_mode: Any,
    entities: Any,
    *,
    user_lookup: UserLookup | None = None,
    caption: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """Turn a text parameter into what Telegram stores: ``(plain_text, entities)``.

    The caller has already rejected a missing/empty ``text`` ("message text is empty"); this
    parses, trims and applies the length limit (4096 UTF-16 units, 1024 for captions).
    """
    if parse_mode:
        mode = str(parse_mode).lower()
        if mode != "html":
            if mode in ("markdown", "markdownv2"):
                raise bad_request(
                    "can't parse entities: the fake Bot API implements only the HTML parse_mode"
                )
            raise bad_request("unsupported parse_mode")
        try:
            plain, parsed = parse_html(text, user_lookup=user_lookup)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc.reason}") from None
    else:
        plain = text
        parsed = _check_entities(text, entities, user_lookup) if entities else []
    plain, parsed = _trim(plain, parsed)
    if not plain and not caption:
        raise bad_request("text must be non-empty")
    if utf16_len(plain) > (CAPTION_LIMIT if caption else TEXT_LIMIT):
        raise bad_request("message caption is too long" if caption else "message is too long")
    return plain, parsed


# --- keyboards ---------------------------------------------------------------------------

_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
# Telegram treats an empty url/callback_data as absent; an empty inline query is a real action.
_EMPTY_MEANS_ABSENT = frozenset({"url", "callback_data"})
_BOOL_FIELDS = {
    "inline_keyboard": (),
    "keyboard": ("resize_keyboard", "one_time_keyboard", "selective", "is_persistent"),
    "remove_keyboard": ("remove_keyboard", "selective"),
    "force_reply": ("force_reply", "selective"),
}


def _button_error(reason: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {reason}")


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise _button_error('Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise _button_error('Field "text" must be of type String')
    if not button["text"]:
        raise bad_request("BUTTON_TEXT_INVALID")
    present = [
        field
        for field in _INLINE_ACTIONS
        if field in button
        and button[field] is not None
        and not (field in _EMPTY_MEANS_ABSENT and button[field] == "")
        and button[field] is not False
    ]
    if not present:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(present) > 1:
        # The Bot API documents "exactly one"; the live server silently uses the first one.
        # The fake is strict so a malformed button is caught in tests.
        raise _button_error(
            f"exactly one of the optional fields must be used, found {', '.join(present)}"
        )
    action = present[0]
    value = button[action]
    if action == "url":
        normalized, reason = check_url(str(value))
        if normalized is None:
            raise bad_request(f"inline keyboard button URL '{value}' is invalid: {reason}")
    elif action == "callback_data":
        if not isinstance(value, str):
            raise _button_error('Field "callback_data" must be of type String')
        if len(value.encode("utf-8")) > CALLBACK_DATA_LIMIT:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "web_app":
        url = str(value.get("url", "")) if isinstance(value, dict) else ""
        if not url.lower().startswith("https://"):
            raise bad_request(
                f"inline keyboard button Web App URL '{url}' is invalid: "
                "Only HTTPS links are allowed"
            )
    elif action == "copy_text":
        copied = value.get("text", "") if isinstance(value, dict) else ""
        if not isinstance(copied, str) or not 1 <= len(copied) <= 256:
            raise bad_request("BUTTON_COPY_TEXT_INVALID")
    elif action in ("pay", "callback_game"):
        raise bad_request("BUTTON_TYPE_INVALID")


def validate_reply_markup(markup: Any) -> dict[str, Any]:
    """Check a decoded ``reply_markup``; returns it unchanged when Telegram would accept it."""
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    kind = next((key for key in _BOOL_FIELDS if key in markup), None)
    if kind is None:
        raise bad_request("can't parse reply keyboard markup JSON object")
    for field in _BOOL_FIELDS[kind]:
        if field in markup and not isinstance(markup[field], bool):
            raise bad_request(f'field "{field}" must be of type Boolean')
    if kind in ("inline_keyboard", "keyboard"):
        rows = markup[kind]
        if not isinstance(rows, list):
            raise bad_request(f'field "{kind}" must be of type Array')
        total = 0
        for row in rows:
            if not isinstance(row, list):
                raise bad_request(f'field "{kind}" must be an Array of Arrays')
            for button in row:
                if kind == "inline_keyboard":
                    _check_inline_button(button)
                elif not isinstance(button, str | dict) or (
                    isinstance(button, dict) and not isinstance(button.get("text"), str)
                ):
                    raise bad_request("can't parse keyboard button: Can't find field \"text\"")
                total += 1
        if total > MAX_KEYBOARD_BUTTONS:
            raise bad_request("reply markup is too long")
    return markup


# --- commands ----------------------------------------------------------------------------

_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


def validate_commands(commands: Any) -> list[dict[str, str]]:
    """Check a ``setMyCommands`` list: names ``^[a-z0-9_]{1,32}$``, descriptions 1-256 chars."""
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > 100:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    checked = []
    for command in commands:
        if not isinstance(command, dict):
            raise bad_request("can't parse BotCommand: expected an Object")
        name = command.get("command")
        description = command.get("description")
        if not isinstance(name, str) or not isinstance(description, str):
            missing = "command" if not isinstance(name, str) else "description"
            raise bad_request(f"can't parse BotCommand: Can't find field \"{missing}\"")
        if not name:
            raise bad_request("command must be non-empty")
        if not _COMMAND.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not description.strip():
            raise bad_request("command description must be non-empty")
        if len(description) > 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        checked.append({"command": name, "description": description})
    return checked


def scope_key(scope: Any, resolve_chat: Callable[[Any], int]) -> str:
    """A stable key for a BotCommandScope: ``default``, ``chat:-100…``, ``chat_member:C:U``…"""
    if scope is None:
        return "default"
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    kind = scope["type"]
    if kind not in _SCOPES:
        raise bad_request("unsupported bot command scope type specified")
    if kind in ("chat", "chat_administrators", "chat_member"):
        if "chat_id" not in scope:
            raise bad_request("can't parse BotCommandScope: Can't find field \"chat_id\"")
        chat_id = resolve_chat(scope["chat_id"])
        if kind == "chat_member":
            if "user_id" not in scope:
                raise bad_request("can't parse BotCommandScope: Can't find field \"user_id\"")
            return f"chat_member:{chat_id}:{int(scope['user_id'])}"
        return f"{kind}:{chat_id}"
    return str(kind)


# --- inline mode -------------------------------------------------------------------------

_RESULT_TYPES = frozenset(
    {
        "article",
        "audio",
        "contact",
        "game",
        "document",
        "gif",
        "location",
        "mpeg4_gif",
        "photo",
        "venue",
        "video",
        "voice",
        "sticker",
    }
)


def validate_inline_results(results: Any, user_lookup: UserLookup | None) -> list[dict[str, Any]]:
    """Check ``answerInlineQuery`` results: count, unique 1-64 byte ids, message contents."""
    if not isinstance(results, list):
        raise bad_request("can't parse inline query results JSON object")
    if len(results) > 50:
        raise bad_request("RESULTS_TOO_MUCH")
    seen: set[str] = set()
    for result in results:
        if not isinstance(result, dict):
            raise bad_request("can't parse InlineQueryResult: expected an Object")
        kind = result.get("type")
        if kind not in _RESULT_TYPES:
            raise bad_request(f'can\'t parse InlineQueryResult: type "{kind}" is unsupported')
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode("utf-8")) <= 64:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        if kind == "article":
            for field in ("title", "input_message_content"):
                if field not in result:
                    raise bad_request(
                        f"can't parse InlineQueryResultArticle: Can't find field \"{field}\""
                    )
        content = result.get("input_message_content")
        if isinstance(content, dict) and "message_text" in content:
            text = content["message_text"]
            if not isinstance(text, str) or not text:
                raise bad_request("message text is empty")
            format_text(
                text,
                content.get("parse_mode"),
                content.get("entities"),
                user_lookup=user_lookup,
            )
        if "reply_markup" in result:
            validate_reply_markup(result["reply_markup"])
    return results
