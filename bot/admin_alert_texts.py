"""The administrators' alerts (``news.admin_alerts``), worded in Telegram HTML in one language.

The jobs send language-free alerts (a code and its figures); here each is worded for one
admin, in the ``t: Texts`` of that admin's private chat (``bot.admin_alerter.AdminAlerter``
picks it). Feed URLs and errors are escaped and isolated; setting names (``COMMENTS_URL`` …) are
placeholders so that no translation can change them.
"""

from __future__ import annotations

import logging

from bot.i18n import Texts
from bot.logs import redact_url
from bot.render import escape, trim
from news.admin_alerts import (
    BACKLOG,
    BACKLOG_CLEARED,
    CHANNEL_CANNOT_POST,
    CHANNEL_MISSING,
    CHANNEL_NOT_A_CHANNEL,
    CHANNEL_OK,
    CHANNEL_PROBLEM,
    FEED_FAILING,
    FEED_RECOVERED,
    RELAY_BAD_SECRET,
    RELAY_MOVED,
    RELAY_PAUSED,
    RELAY_RECONFIGURED,
    RELAY_RESUMED,
    TOKEN_OK,
    TOKEN_REFUSED,
    AdminAlert,
)

log = logging.getLogger(__name__)

ERROR_LIMIT = 500  # characters of a feed's error shown (Telegram messages hold 4096)


def _int(alert: AdminAlert, key: str) -> int:
    value = alert.params.get(key, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _num(value: int, *, t: Texts) -> str:
    """A count inside a sentence, in the locale's digits and grouping."""
    return t.isolate(t.number(value))


def _code(value: object, *, t: Texts) -> str:
    """An HTTP status or a setting's name: kept as it is, isolated."""
    return t.isolate(escape(str(value)))


def _value(alert: AdminAlert, key: str, *, t: Texts) -> str:
    """A URL or an error from a feed: escaped, shortened, direction-isolated."""
    return t.isolate(escape(trim(redact_url(str(alert.params.get(key, ""))), ERROR_LIMIT)))


def duration(minutes: int, *, t: Texts) -> str:
    """Whole minutes as "16 minutes", "2 hours" or "1 hour 5 minutes"."""
    minutes = max(0, minutes)
    hours, rest = divmod(minutes, 60)
    in_minutes = t.ngettext("{num} minute", "{num} minutes", rest).format(num=_num(rest, t=t))
    if not hours:
        return in_minutes
    in_hours = t.ngettext("{num} hour", "{num} hours", hours).format(num=_num(hours, t=t))
    if not rest:
        return in_hours
    # Translators: a duration in hours and minutes, e.g. "1 hour 5 minutes".
    return t._("{hours} {minutes}").format(hours=in_hours, minutes=in_minutes)


def alert_text(alert: AdminAlert, *, t: Texts) -> str:
    """The alert in ``t``'s language (HTML); an unknown code is shown as code and figures."""
    code = alert.code
    if code == FEED_FAILING:
        polls = _int(alert, "polls")
        # Translators: admins only; said when a failing feed recorded no error.
        error = _value(alert, "error", t=t) if alert.params.get("error") else t._("unknown error")
        # Translators: admins only. {url} is a news feed's address, {duration} a span such as
        # "1 hour 5 minutes", {error} the feed's last error as the server gave it (English).
        text = t.ngettext(
            "⚠️ Feed {url} has been failing for {duration} ({num} poll): {error}",
            "⚠️ Feed {url} has been failing for {duration} ({num} polls): {error}",
            polls,
        )
        return text.format(
            url=_value(alert, "url", t=t),
            duration=duration(_int(alert, "minutes"), t=t),
            num=_num(polls, t=t),
            error=error,
        )
    if code == FEED_RECOVERED:
        # Translators: admins only. {url} is a news feed's address.
        return t._("✅ Feed {url} works again.").format(url=_value(alert, "url", t=t))
    if code == TOKEN_REFUSED:
        # Translators: admins only. {status} is an HTTP status (401), {setting} the name of a
        # setting (TELEGRAM_BOT_TOKEN); @BotFather is Telegram's bot for managing bots.
        text = t._(
            "⚠️ The Bot API refuses the bot token ({status}): pushes are paused. Check "
            "{setting} (was it revoked in @BotFather?)."
        )
        return text.format(
            status=_code(alert.params.get("status", 401), t=t),
            setting=_code("TELEGRAM_BOT_TOKEN", t=t),
        )
    if code == TOKEN_OK:
        # Translators: admins only.
        return t._("✅ The Bot API accepts the bot token again; pushes resumed.")
    if code == BACKLOG:
        waiting = _int(alert, "waiting")
        # Translators: admins only. {duration} is a span such as "16 minutes"; /stats is a
        # command; {setting} the name of a setting (SEND_RATE), the bot's sends per second.
        text = t.ngettext(
            "⚠️ {num} push is waiting; the oldest for {duration}. Telegram may be slowing the "
            "bot down (see /stats), or {setting} is too low for the audience.",
            "⚠️ {num} pushes are waiting; the oldest for {duration}. Telegram may be slowing "
            "the bot down (see /stats), or {setting} is too low for the audience.",
            waiting,
        )
        return text.format(
            num=_num(waiting, t=t),
            duration=duration(_int(alert, "minutes"), t=t),
            setting=_code("SEND_RATE", t=t),
        )
    if code == BACKLOG_CLEARED:
        # Translators: admins only.
        return t._("✅ The push backlog has cleared.")
    if code == RELAY_PAUSED:
        return _relay_paused(alert, t=t)
    if code == RELAY_RESUMED:
        return _relay_resumed(alert, t=t)
    if code == CHANNEL_PROBLEM:
        return channel_problem(alert, t=t)
    if code == CHANNEL_OK:
        # Translators: admins only. {chat} is a Telegram channel (@name or numeric id).
        return t._("✅ The bot can post to the channel {chat} again.").format(
            chat=_code(alert.params.get("chat", ""), t=t)
        )
    log.warning("admin alert %s has no words; shown as it is", code)
    return escape(str(alert))


def _relay_paused(alert: AdminAlert, *, t: Texts) -> str:
    cause = alert.params.get("cause")
    if cause == RELAY_BAD_SECRET:
        # Translators: admins only. The news site gets readers' comments from the bot;
        # {status} is an HTTP status, {setting} a setting's name (COMMENTS_SECRET).
        first = t._(
            "Comments are not reaching the news site: it answered HTTP {status} (it refused "
            "the signature, so {setting} is probably wrong)."
        )
        setting = "COMMENTS_SECRET"
    elif cause == RELAY_MOVED:
        # Translators: admins only. The news site gets readers' comments from the bot;
        # {status} is an HTTP status, {setting} a setting's name (COMMENTS_URL).
        first = t._(
            "Comments are not reaching the news site: it answered HTTP {status} (the endpoint "
            "has moved, so {setting} needs updating)."
        )
        setting = "COMMENTS_URL"
    else:
        # Translators: admins only. The news site gets readers' comments from the bot;
        # {status} is an HTTP status, {setting} a setting's name (COMMENTS_URL).
        first = t._(
            "Comments are not reaching the news site: it answered HTTP {status} (there is no "
            "such endpoint, so {setting} is probably wrong)."
        )
        setting = "COMMENTS_URL"
    # Translators: admins only; follows "Comments are not reaching the news site: …".
    # {url_setting} and {secret_setting} are the names COMMENTS_URL and COMMENTS_SECRET.
    then = t._(
        "Comments stay queued and nothing is lost; relaying resumes when {url_setting} or "
        "{secret_setting} is changed and the bot is restarted, or when the site accepts a comment "
        "again (tried every hour)."
    )
    return " ".join(
        (
            first.format(
                status=_code(alert.params.get("status", "?"), t=t), setting=_code(setting, t=t)
            ),
            then.format(
                url_setting=_code("COMMENTS_URL", t=t),
                secret_setting=_code("COMMENTS_SECRET", t=t),
            ),
        )
    )


def _relay_resumed(alert: AdminAlert, *, t: Texts) -> str:
    waiting = _int(alert, "waiting")
    if alert.params.get("cause") == RELAY_RECONFIGURED:
        # Translators: admins only. {url_setting} and {secret_setting} are the setting names
        # COMMENTS_URL and COMMENTS_SECRET; {num} comments waited while relaying was paused.
        text = t.ngettext(
            "Comments are reaching the news site again ({url_setting} or {secret_setting} "
            "changed); {num} waiting comment is being sent now.",
            "Comments are reaching the news site again ({url_setting} or {secret_setting} "
            "changed); {num} waiting comments are being sent now.",
            waiting,
        )
    else:
        # Translators: admins only. {num} comments waited while relaying was paused.
        text = t.ngettext(
            "Comments are reaching the news site again (it accepted a comment); {num} "
            "waiting comment is being sent now.",
            "Comments are reaching the news site again (it accepted a comment); {num} "
            "waiting comments are being sent now.",
            waiting,
        )
    return text.format(
        url_setting=_code("COMMENTS_URL", t=t),
        secret_setting=_code("COMMENTS_SECRET", t=t),
        num=_num(waiting, t=t),
    )


def channel_problem(alert: AdminAlert, *, t: Texts) -> str:
    """Why a channel of CHANNELS cannot be posted to, in one sentence."""
    chat = _code(alert.params.get("chat", ""), t=t)
    problem = alert.params.get("problem")
    if problem == CHANNEL_MISSING:
        # Translators: admins only. {chat} is a Telegram channel (@name or numeric id);
        # {setting} is the setting's name, CHANNELS.
        text = t._(
            "⚠️ The channel {chat} in {setting} does not exist, or the bot cannot see it; "
            "nothing is posted there, and the rest of the bot keeps working."
        )
    elif problem == CHANNEL_NOT_A_CHANNEL:
        # Translators: admins only. {chat}: a Telegram chat; {setting}: CHANNELS.
        text = t._(
            "⚠️ {chat} in {setting} is not a channel; nothing is posted there, and the rest "
            "of the bot keeps working."
        )
    elif problem == CHANNEL_CANNOT_POST:
        # Translators: admins only. {chat}: a Telegram channel; {setting}: CHANNELS.
        text = t._(
            "⚠️ The bot may not post messages in the channel {chat} ({setting}): give it the "
            "right to post messages; the rest of the bot keeps working."
        )
    else:
        # Translators: admins only. {chat}: a Telegram channel; {setting}: CHANNELS.
        text = t._(
            "⚠️ The bot is not an administrator of the channel {chat} ({setting}): add it as "
            "an administrator allowed to post messages; the rest of the bot keeps working."
        )
    return text.format(chat=chat, setting=_code("CHANNELS", t=t))
