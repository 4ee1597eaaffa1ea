"""Messages the bot sends: send, edit and delete text and media, and chat actions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.fake_bot_api.channels import ChannelsMixin
from tests.fake_bot_api.errors import ApiError, bad_request
from tests.fake_bot_api.flood import FloodControlMixin
from tests.fake_bot_api.models import (
    PHOTO_UPLOAD_MAX_BYTES,
    PHOTO_URL_MAX_BYTES,
    FakeChat,
    FakeImage,
    StoredMessage,
)
from tests.fake_bot_api.params import Params, coerce
from tests.fake_bot_api.validation import format_text, validate_reply_markup

__all__ = ["MessagesMixin"]

_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class MessagesMixin(FloodControlMixin, ChannelsMixin):
    """sendMessage, sendPhoto, sendDocument, the edits, deleteMessage(s) and sendChatAction."""

    # --- sending --------------------------------------------------------------------------

    async def _send_message(self, params: Params) -> Any:
        text = params.get("text")
        if not text:
            raise bad_request("message text is empty")
        chat = self._chat(params.get("chat_id"), write=True)
        plain, entities = format_text(
            str(text),
            params.get("parse_mode"),
            params.get("entities"),
            user_lookup=self._user_dict,
        )
        markup = self._markup(params)
        thread_id = self._thread(chat, params.get("message_thread_id"))
        replied = self._reply_target(chat, params)
        preview = self._link_preview(params)
        self._check_flood(chat, params)
        message = self._new_message(chat, self.bot, thread_id=thread_id, reply_to=replied)
        message["text"] = plain
        if entities:
            message["entities"] = entities
        if preview:
            message["link_preview_options"] = preview
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if chat.is_channel:
            self._as_channel_post(chat, message)
        stored = self._store(
            message,
            from_bot=True,
            raw_text=str(text),
            parse_mode=params.get("parse_mode"),
            silent=bool(params.get("disable_notification")),
        )
        self.stats.sent += 1
        if chat.is_channel:
            self._channel_posted(chat, stored)
        return message

    async def _send_media(self, params: Params, kind: str) -> dict[str, Any]:
        media = params.get(kind)
        if not media:
            raise bad_request(f"there is no {kind} in the request")
        chat = self._chat(params.get("chat_id"), write=True)
        caption = params.get("caption")
        plain: str = ""
        entities: list[dict[str, Any]] = []
        if caption:
            plain, entities = format_text(
                str(caption),
                params.get("parse_mode"),
                params.get("caption_entities"),
                user_lookup=self._user_dict,
                caption=True,
            )
        markup = self._markup(params)
        thread_id = self._thread(chat, params.get("message_thread_id"))
        replied = self._reply_target(chat, params)
        # The picture is fetched (or refused) before the message counts against any limit.
        sizes = await self._photo_from(media, params) if kind == "photo" else None
        self._check_flood(chat, params)
        message = self._new_message(chat, self.bot, thread_id=thread_id, reply_to=replied)
        if sizes is not None:
            message["photo"] = sizes
        else:
            number = next(self._file_ids)
            document = {
                "file_id": f"BQACAgIAAxkBAAE{number:08d}",
                "file_unique_id": f"AgAD{number}",
            }
            self._documents.add(document["file_id"])
            if isinstance(media, dict):
                document.update(file_name=media["file_name"], file_size=media["file_size"])
                if media.get("mime_type"):
                    document["mime_type"] = media["mime_type"]
            message["document"] = document
        if plain:
            message["caption"] = plain
        if entities:
            message["caption_entities"] = entities
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        if chat.is_channel:
            self._as_channel_post(chat, message)
        stored = self._store(
            message,
            from_bot=True,
            raw_text=str(caption) if caption else None,
            parse_mode=params.get("parse_mode"),
            silent=bool(params.get("disable_notification")),
        )
        self.stats.sent += 1
        if chat.is_channel:
            self._channel_posted(chat, stored)
        return message

    async def _photo_from(self, photo: Any, params: Params) -> list[dict[str, Any]]:
        """The sizes of the photo a sendPhoto names: an upload (multipart, directly or by
        ``attach://name``), an HTTP URL Telegram fetches, or a file id it already holds."""
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
            if not isinstance(photo, dict):
                raise bad_request("wrong file identifier/HTTP URL specified")
        if isinstance(photo, dict):  # uploaded
            if photo.get("file_size", 0) > PHOTO_UPLOAD_MAX_BYTES:
                raise bad_request("file is too big")
            return self._photo_sizes()
        reference = str(photo)
        if reference.lower().startswith(("http://", "https://")):
            await self._fetch_photo(reference)
            return self._photo_sizes()
        sizes = self._photos.get(reference)
        if sizes is not None:
            # Resending by file id sends every size of the photo, fetched nothing.
            return sizes
        if reference in self._documents:
            raise bad_request("type of file mismatch")
        raise bad_request("wrong file identifier/HTTP URL specified")

    async def _fetch_photo(self, url: str) -> None:
        """Telegram downloads the picture: too large, not an image, unreachable or of
        impossible dimensions are refused with Telegram's own descriptions."""
        self.image_fetches[url] += 1
        self.stats.photo_url_fetches += 1
        image = self.images.get(url)
        if image is not None and image.delay:
            await asyncio.sleep(image.delay)
        if image is None or not image.reachable:
            raise bad_request("failed to get HTTP URL content")
        if not image.content_type.lower().startswith("image/"):
            raise bad_request("wrong type of the web page content")
        if image.size > PHOTO_URL_MAX_BYTES:
            raise bad_request("wrong file identifier/HTTP URL specified")
        short, long = sorted((image.width, image.height))
        if image.width + image.height > 10_000 or short <= 0 or long / short > 20:
            raise bad_request("PHOTO_INVALID_DIMENSIONS")

    def add_image(self, url: str, **details: Any) -> FakeImage:
        """Put a picture on the web at ``url`` for sendPhoto to fetch (see FakeImage)."""
        image = self.images[url] = FakeImage(url, **details)
        return image

    async def _send_photo(self, params: Params) -> Any:
        return await self._send_media(params, "photo")

    async def _send_document(self, params: Params) -> Any:
        return await self._send_media(params, "document")

    # --- editing --------------------------------------------------------------------------

    def _edit_inline(self, params: Params) -> Any:
        # Messages sent via inline mode are not stored; record the edit and accept it.
        self.inline_edits.append(params)
        return True

    async def _edit_message_text(self, params: Params) -> Any:
        if params.get("inline_message_id"):
            return self._edit_inline(params)
        text = params.get("text")
        if not text:
            raise bad_request("message text is empty")
        chat = self._chat(params.get("chat_id"), write=True)
        stored = self._editable(chat, params.get("message_id"))
        message = stored.message
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        plain, entities = format_text(
            str(text),
            params.get("parse_mode"),
            params.get("entities"),
            user_lookup=self._user_dict,
        )
        markup = self._markup(params)
        inline_markup = markup if markup and "inline_keyboard" in markup else None
        preview = self._link_preview(params)
        if (
            plain == message["text"]
            and entities == message.get("entities", [])
            and inline_markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        self._check_flood(chat, params, new_message=False)
        message["text"] = plain
        self._set_optional(message, "entities", entities)
        # Like Telegram: an edit without reply_markup removes the inline keyboard.
        self._set_optional(message, "reply_markup", inline_markup)
        if preview is not None:
            message["link_preview_options"] = preview
        message["edit_date"] = int(time.time())
        stored.raw_text = str(text)
        stored.parse_mode = params.get("parse_mode")
        stored.edit_count += 1
        self.stats.edited += 1
        if chat.is_channel:
            self._channel_post_edited(chat, stored)
        return message

    async def _edit_message_caption(self, params: Params) -> Any:
        if params.get("inline_message_id"):
            return self._edit_inline(params)
        chat = self._chat(params.get("chat_id"), write=True)
        stored = self._editable(chat, params.get("message_id"))
        message = stored.message
        if "text" in message:
            raise bad_request("there is no caption in the message to edit")
        caption = params.get("caption")
        plain: str = ""
        entities: list[dict[str, Any]] = []
        if caption:
            plain, entities = format_text(
                str(caption),
                params.get("parse_mode"),
                params.get("caption_entities"),
                user_lookup=self._user_dict,
                caption=True,
            )
        markup = self._markup(params)
        inline_markup = markup if markup and "inline_keyboard" in markup else None
        if (
            plain == message.get("caption", "")
            and entities == message.get("caption_entities", [])
            and inline_markup == message.get("reply_markup")
        ):
            raise self._not_modified()
        self._check_flood(chat, params, new_message=False)
        self._set_optional(message, "caption", plain)
        self._set_optional(message, "caption_entities", entities)
        self._set_optional(message, "reply_markup", inline_markup)
        message["edit_date"] = int(time.time())
        stored.raw_text = str(caption) if caption else None
        stored.parse_mode = params.get("parse_mode")
        stored.edit_count += 1
        self.stats.edited += 1
        if chat.is_channel:
            self._channel_post_edited(chat, stored)
        return message

    async def _edit_message_reply_markup(self, params: Params) -> Any:
        if params.get("inline_message_id"):
            return self._edit_inline(params)
        chat = self._chat(params.get("chat_id"), write=True)
        stored = self._editable(chat, params.get("message_id"))
        markup = self._markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if markup == stored.message.get("reply_markup"):
            raise self._not_modified()
        self._set_optional(stored.message, "reply_markup", markup)
        stored.message["edit_date"] = int(time.time())
        stored.edit_count += 1
        self.stats.edited += 1
        return stored.message

    # --- deleting -------------------------------------------------------------------------

    def _delete(self, chat: FakeChat, message_id: Any) -> bool:
        stored = self._messages.get((chat.id, message_id))
        if stored is None or stored.deleted:
            return False
        if (
            not stored.from_bot
            and chat.is_group
            and chat.bot_status not in ("administrator", "creator")
        ):
            raise bad_request("message can't be deleted")
        stored.deleted = True
        if stored.from_bot:
            self._live_sent[chat.id] -= 1
        return True

    async def _delete_message(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        if not params.get("message_id"):
            raise bad_request("message identifier is not specified")
        if not self._delete(chat, params["message_id"]):
            raise bad_request("message to delete not found")
        return True

    async def _delete_messages(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=False)
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a non-empty list of at most 100 identifiers")
        deleted = [self._delete(chat, int(message_id)) for message_id in ids]
        if not any(deleted):
            raise bad_request("message to delete not found")
        return True

    # --- chat actions ---------------------------------------------------------------------

    async def _send_chat_action(self, params: Params) -> Any:
        chat = self._chat(params.get("chat_id"), write=True)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self._thread(chat, params.get("message_thread_id"))
        return True

    # --- checks shared by sends and edits -------------------------------------------------

    def _thread(self, chat: FakeChat, thread_id: Any) -> int | None:
        if not thread_id:
            return None
        if chat.is_forum and thread_id in chat.topics:
            return int(thread_id)
        if chat.type == "supergroup" and not chat.is_forum:
            replied = self._messages.get((chat.id, thread_id))
            if replied is not None and not replied.deleted:
                return int(thread_id)
        raise bad_request("message thread not found")

    def _reply_target(self, chat: FakeChat, params: Params) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        allow = bool(params.get("allow_sending_without_reply"))
        if reply is None and params.get("reply_to_message_id"):
            reply = {"message_id": params["reply_to_message_id"]}
        if reply is None:
            return None
        if not isinstance(reply, dict):
            raise bad_request("can't parse reply parameters JSON object")
        if "message_id" not in reply:
            raise bad_request('can\'t find field "message_id"')
        allow = bool(reply.get("allow_sending_without_reply", allow))
        target_chat = chat
        if reply.get("chat_id") not in (None, chat.id):
            target_chat = self._chat(coerce("chat_id", reply["chat_id"]), write=False)
        stored = self._messages.get((target_chat.id, int(reply["message_id"])))
        if stored is None or stored.deleted:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return stored if target_chat is chat else None

    @staticmethod
    def _link_preview(params: Params) -> dict[str, Any] | None:
        options = params.get("link_preview_options")
        if options is None and params.get("disable_web_page_preview"):
            options = {"is_disabled": True}
        if options is None:
            return None
        if not isinstance(options, dict):
            raise bad_request("can't parse link preview options JSON object")
        for name in ("is_disabled", "prefer_small_media", "prefer_large_media", "show_above_text"):
            if name in options and not isinstance(options[name], bool):
                raise bad_request(f'field "{name}" must be of type Boolean')
        return options

    @staticmethod
    def _markup(params: Params) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        return validate_reply_markup(markup)

    def _editable(self, chat: FakeChat, message_id: Any) -> StoredMessage:
        if not message_id:
            raise bad_request("message identifier is not specified")
        stored = self._messages.get((chat.id, message_id))
        if stored is None or stored.deleted:
            raise bad_request("message to edit not found")
        if not stored.from_bot:
            raise bad_request("message can't be edited")
        return stored

    @staticmethod
    def _not_modified() -> ApiError:
        return bad_request(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    @staticmethod
    def _set_optional(message: dict[str, Any], key: str, value: Any) -> None:
        if value:
            message[key] = value
        else:
            message.pop(key, None)
