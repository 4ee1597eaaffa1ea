"""Texts of the site's conversation in Telegram: /comments pages as the site shows them,
/whatyousay, reply notices and the status with its link (Telegram HTML).

Everything that came from the outlet (names, texts, titles) is escaped and direction-isolated
here, so an Arabic name keeps its order inside an English sentence and the other way round.
Dates are shown in the reader's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.i18n import N_, Texts
from bot.render import Button, escape, trim, utf16_len
from storage.published_comments import PublishedView, ReplyNotice, SiteComment

# Telegram allows 4,096 characters; room is left for the heading and the page line.
_BUDGET = 3800
ENTRY_LIMIT = 600  # one comment in a page; longer ones end with "…"
LIST_LIMIT = 200  # one comment in What You Say

NO_SITE_COMMENTS = N_("No comments yet. Reply to the story to write the first one.")
NO_WHAT_YOU_SAY = N_("No comments yet. They appear here as soon as the site publishes them.")
REPLIES_ON = N_("💬 Replies to my comments: on")
REPLIES_OFF = N_("💬 Replies to my comments: off")
REPLY_GONE = N_("That comment is no longer on the site.")


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _title(title: str, *, t: Texts) -> str:
    if not title.strip():
        return t._("the story")
    return t.isolate(escape(trim(title, 120)))


def _name(value: str, *, t: Texts) -> str:
    return t.isolate(escape(value))


def _date(when: datetime, zone: ZoneInfo, *, t: Texts) -> str:
    return t.isolate(escape(t.date_time(when, zone)))


def _entry(comment: PublishedView, zone: ZoneInfo, *, t: Texts, mine: bool, limit: int) -> str:
    """ "Name | date" (the site's line), then the text; the reader's own marked."""
    head = f"<b>{_name(comment.author, t=t)}</b> | {_date(comment.published_at, zone, t=t)}"
    if mine:
        # Translators: marks the reader's own comment in a list of the site's comments.
        head += " · " + t._("✍️ you")
    if comment.in_reply_to:
        head = "↪️ " + head
    return f"{head}\n{t.isolate(escape(_shorten(comment.text, limit)))}"


def comment_page(
    title: str,
    comments: Sequence[PublishedView],
    zone: ZoneInfo,
    *,
    offset: int,
    total: int,
    viewer: int | None,
    t: Texts,
) -> tuple[str, int]:
    """One page of a story's comments as the site shows them, oldest first; with how many
    fitted (the next page starts after them)."""
    heading = t._("💬 <b>Comments on ‘{story}’</b>").format(story=_title(title, t=t))
    if not comments:
        if offset:
            return f"{heading}\n\n{t._('No more comments.')}", 0
        return f"{heading}\n\n{t._(NO_SITE_COMMENTS)}", 0
    parts = [heading]
    used = utf16_len(heading) + 40
    for comment in comments:
        entry = "\n\n" + _entry(
            comment,
            zone,
            t=t,
            mine=viewer is not None and comment.user_id == viewer,
            limit=ENTRY_LIMIT,
        )
        if used + utf16_len(entry) > _BUDGET and len(parts) > 1:
            break
        parts.append(entry)
        used += utf16_len(entry)
    shown = len(parts) - 1
    # Translators: under a page of comments: which of how many are shown ("1–5 of 500").
    footer = t._("{first}–{last} of {total}").format(
        first=t.isolate(t.number(offset + 1)),
        last=t.isolate(t.number(offset + shown)),
        total=t.isolate(t.number(total)),
    )
    return "".join(parts) + f"\n\n<i>{footer}</i>", shown


def what_you_say(items: Sequence[SiteComment], zone: ZoneInfo, *, offset: int, t: Texts) -> str:
    """The latest comments across the site, each with its story and that story's count."""
    heading = t._("🗣 <b>What You Say</b>")
    if not items:
        if offset:
            return f"{heading}\n\n{t._('No more comments.')}"
        return f"{heading}\n\n{t._(NO_WHAT_YOU_SAY)}"
    parts = [heading]
    used = utf16_len(heading)
    for item in items:
        count = t.ngettext("{num} comment", "{num} comments", item.story_count).format(
            num=t.isolate(t.number(item.story_count))
        )
        # Translators: under a comment in What You Say: its story and how many comments it has.
        story = t._("on ‘{story}’ · {count}").format(
            story=_title(item.story_title, t=t), count=count
        )
        entry = (
            "\n\n"
            + _entry(item.comment, zone, t=t, mine=False, limit=LIST_LIMIT)
            + f"\n<i>{story}</i>"
        )
        if used + utf16_len(entry) > _BUDGET:
            break
        parts.append(entry)
        used += utf16_len(entry)
    return "".join(parts)


def published_status(title: str, url: str | None, *, t: Texts) -> str:
    """The reader's confirmation once the site shows their comment, with a link to it."""
    text = t._("✅ Your comment on ‘{story}’ is published.").format(story=_title(title, t=t))
    if url:
        # Translators: a link after "Your comment … is published."
        text += f' <a href="{escape(url)}">{t._("See it on the site")}</a>'
    return text


def reply_notice(notice: ReplyNotice, zone: ZoneInfo, *, t: Texts) -> str:
    """Someone answered the reader's comment on the site."""
    reply = notice.reply
    head = t._("💬 {name} replied to your comment on ‘{story}’:").format(
        name=f"<b>{_name(reply.author, t=t)}</b>", story=_title(notice.story_title, t=t)
    )
    yours = t.isolate(escape(_shorten(notice.parent_text, 120)))
    body = t.isolate(escape(_shorten(reply.text, 2500)))
    when = _date(reply.published_at, zone, t=t)
    hint = t._("Reply to this message to answer on the site.")
    return f"{head}\n<blockquote>{yours}</blockquote>\n{body}\n<i>{when}</i>\n\n{hint}"


def reply_prompt(author: str, *, t: Texts) -> str:
    """The ForceReply prompt after "↩️ Reply"."""
    return t._(
        "↩️ Write your reply to {name} and send it as a reply to this message. It is "
        "published with your name after moderation."
    ).format(name=f"<b>{_name(author, t=t)}</b>")


def replies_button(t: Texts, on: bool) -> Button:
    """The /settings switch for reply notices, showing its state (a tap turns it over)."""
    return Button(t._(REPLIES_ON if on else REPLIES_OFF), callback=f"rp:{'off' if on else 'on'}")


def what_you_say_button(t: Texts) -> Button:
    """The button under /latest that opens What You Say (in a new message)."""
    # Translators: a button under /latest: the latest comments across the site.
    return Button(t.pgettext("button", "🗣 What You Say"), callback="wy:0:n")
