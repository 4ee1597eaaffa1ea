"""The message that tells a chat some sections it follows are no longer offered (the bot side
of jobs.retired_sections), in the chat's language."""

from __future__ import annotations

from bot.flood import is_private_chat
from bot.handlers.subscriptions import MAX_LISTED, describe
from bot.i18n import chat_locale, texts
from bot.render import escape
from bot.sections import SectionCatalogue, built_in_names
from storage.retired_sections import RetiredSubscriptions


class RetiredSectionsNotice:
    """Renders the notice: which sections went, then what the chat still receives."""

    def __init__(self, sections: SectionCatalogue, default_locale: str) -> None:
        self._sections = sections
        self._default = default_locale

    def __call__(self, chat: RetiredSubscriptions) -> str:
        t = texts(chat_locale(chat.locale, chat.locale, self._default))
        # A common section keeps its translated name; any other has only the name it was
        # stored with (a feed's category, as the feed wrote it).
        common = built_in_names(t.locale)
        names = [common.get(slug) or name for slug, name in chat.retired]
        listed = t.join(f"<b>{t.isolate(escape(name))}</b>" for name in names[:MAX_LISTED])
        if len(names) > MAX_LISTED:
            listed += " …"
        gone = t.ngettext(
            "The section {sections} is no longer offered, so no new stories come from it.",
            "The sections {sections} are no longer offered, so no new stories come from them.",
            len(names),
        ).format(sections=listed)
        # Telegram gives users positive ids, groups and channels negative ones.
        group = not is_private_chat(chat.chat_id)
        now = describe(t, set(chat.remaining), self._sections.names(t), group=group)
        return f"{gone}\n{now}"
