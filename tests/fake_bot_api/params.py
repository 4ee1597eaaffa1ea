"""How the fake reads a Bot API call's parameters, whatever the request's encoding."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from aiohttp import web

from tests.fake_bot_api.errors import bad_request

__all__ = ["Params", "coerce", "read_params"]

Params = dict[str, Any]

# How form-encoded values are decoded. PTB 22 posts application/x-www-form-urlencoded (or
# multipart/form-data when uploading) where strings are sent raw and every other value is
# json.dumps()-ed, so "123", "true" and '{"inline_keyboard": …}' all arrive as strings.
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
        "results",
        "commands",
        "scope",
        "allowed_updates",
        "button",
        "media",
        "message_ids",
        "options",
        "prices",
        "permissions",
        "menu_button",
        "rights",
        "reaction",
        "question_entities",
        "explanation_entities",
        "suggested_post_parameters",
    }
)


_INT_PARAMS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "message_thread_id",
        "cache_time",
        "max_connections",
        "user_id",
        "reply_to_message_id",
        "until_date",
        "direct_messages_topic_id",
    }
)


_BOOL_PARAMS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "show_alert",
        "is_personal",
        "drop_pending_updates",
        "disable_web_page_preview",
        "allow_paid_broadcast",
        "revoke_messages",
        "only_if_banned",
        "for_channels",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
    }
)


_CHAT_ID_PARAMS = frozenset({"chat_id", "from_chat_id"})


_TEXT_PARAMS = frozenset({"text", "caption", "callback_query_id", "inline_query_id"})


def coerce(name: str, value: Any) -> Any:
    """Decode one parameter the way the Bot API types it, whatever the request encoding."""
    if isinstance(value, str):
        if name in _JSON_PARAMS:
            try:
                return json.loads(value)
            except ValueError:
                raise bad_request(f"can't parse {name} JSON object") from None
        if name in _INT_PARAMS:
            try:
                return int(value)
            except ValueError:
                pass
            try:
                return int(float(value))
            except ValueError:
                raise bad_request(f'field "{name}" must be a valid Number') from None
        if name in _BOOL_PARAMS:
            lowered = value.lower()
            if lowered in ("true", "1"):
                return True
            if lowered in ("false", "0", ""):
                return False
            raise bad_request(f'field "{name}" must be of type Boolean')
        if name in _CHAT_ID_PARAMS:
            with contextlib.suppress(ValueError):
                return int(value)
        return value
    if name in _TEXT_PARAMS and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


async def read_params(request: web.Request) -> Params:
    """A call's parameters from its query string and its JSON, form or multipart body."""
    params: Params = dict(request.query) if request.query_string else {}
    if request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise bad_request("can't parse JSON object")
                params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    data = value.file.read()
                    params[key] = {
                        "file_name": value.filename,
                        "mime_type": value.content_type,
                        "file_size": len(data),
                        "data": data,
                    }
                else:
                    params[key] = value
    return {key: coerce(key, value) for key, value in params.items()}
