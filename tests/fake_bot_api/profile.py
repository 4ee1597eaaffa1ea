"""The bot's own profile: getMe, logOut, close, its command menus, descriptions and name."""

from __future__ import annotations

import re
from typing import Any

from tests.fake_bot_api.core import FakeBotApiCore
from tests.fake_bot_api.errors import bad_request
from tests.fake_bot_api.params import Params, coerce
from tests.fake_bot_api.validation import scope_key, validate_commands

__all__ = ["BotProfileMixin"]


class BotProfileMixin(FakeBotApiCore):
    """getMe and the setMy*/getMy*/deleteMyCommands family."""

    # --- the bot --------------------------------------------------------------------------

    async def _get_me(self, params: Params) -> Any:
        return {
            **self._bot_dict,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": True,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _log_out(self, params: Params) -> Any:
        return True

    async def _close(self, params: Params) -> Any:
        return True

    # --- commands -------------------------------------------------------------------------

    def _command_key(self, params: Params) -> tuple[str, str]:
        def resolve(chat_id: Any) -> int:
            return self._chat(coerce("chat_id", chat_id), write=False).id

        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return scope_key(params.get("scope"), resolve), language

    async def _set_my_commands(self, params: Params) -> Any:
        commands = validate_commands(params.get("commands", []))
        key = self._command_key(params)
        if commands:
            self.commands[key] = commands
        else:
            self.commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params) -> Any:
        return self.commands.get(self._command_key(params), [])

    async def _delete_my_commands(self, params: Params) -> Any:
        self.commands.pop(self._command_key(params), None)
        return True

    # --- descriptions and name ------------------------------------------------------------

    def _set_text_setting(self, params: Params, field: str, limit: int) -> Any:
        value = str(params.get(field) or "")
        if len(value) > limit:
            raise bad_request(f"{field.replace('_', ' ')} is too long")
        key = (field, str(params.get("language_code") or ""))
        if value:
            self.descriptions[key] = value
        else:
            self.descriptions.pop(key, None)
        return True

    def _get_text_setting(self, params: Params, field: str) -> Any:
        language = str(params.get("language_code") or "")
        value = self.descriptions.get((field, language), self.descriptions.get((field, ""), ""))
        return {field: value}

    async def _set_my_description(self, params: Params) -> Any:
        return self._set_text_setting(params, "description", 512)

    async def _get_my_description(self, params: Params) -> Any:
        return self._get_text_setting(params, "description")

    async def _set_my_short_description(self, params: Params) -> Any:
        return self._set_text_setting(params, "short_description", 120)

    async def _get_my_short_description(self, params: Params) -> Any:
        return self._get_text_setting(params, "short_description")

    async def _set_my_name(self, params: Params) -> Any:
        return self._set_text_setting(params, "name", 64)

    async def _get_my_name(self, params: Params) -> Any:
        result = self._get_text_setting(params, "name")
        return result if result["name"] else {"name": self.bot.first_name}
