"""Every text about comments that readers and moderators see, in Telegram HTML, in one place.

The texts are gettext msgids (English is the source language): module constants are marked
with ``N_`` and translated where they are shown (``t._(CONSTANT)``); the functions take the
``t: Texts`` of whoever reads the message (the reader's chat, or the moderators' chat for
cards) and never look a language up themselves. Anything that came from a reader, a feed or
the outlet is escaped here, and isolated so the text around it keeps its order in either
direction. Reasons the relay stores for a reader (``news.outlet_answers`` reason codes) are
worded here, at display time, in the reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from math import ceil
from zoneinfo import ZoneInfo

from bot.comment_rules import NAME_MAX, Refusal, Refused
from bot.config import RateLimit
from bot.i18n import N_, Texts
from bot.render import escape, trim, utf16_len
from news.outlet_answers import (
    REASON_NOT_ACCEPTED,
    REASON_REFUSED,
    REASON_REFUSED_HERE,
    REASON_TOO_LONG,
    REASON_UNREACHABLE,
    REASON_UNREADABLE,
    parse_reason,
)
from storage.comments import (
    CHOOSING,
    FAILED,
    HELD,
    PUBLISHED,
    QUEUED,
    REJECTED,
    RELAYED,
    CommentView,
)

# Telegram allows 4,096 characters; room is left for the headings around a comment.
_BUDGET = 3900
LIST_TEXT_LIMIT = 600  # one comment in a /comments page; the site shows it whole

# --- pieces -------------------------------------------------------------------------------


def headline(title: str, *, t: Texts) -> str:
    """A story's headline inside a sentence: escaped, shortened, direction-isolated."""
    if not title.strip():
        # Translators: stands in for a story's headline when it has none.
        return t._("the story")
    return t.isolate(escape(trim(title, 120)))


def name(value: str, *, t: Texts) -> str:
    """A reader's display name inside a sentence."""
    return t.isolate(escape(value))


def _num(value: int, *, t: Texts) -> str:
    """A figure inside a sentence, in the locale's digits and grouping."""
    return t.isolate(t.number(value))


def _shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space, keeping the reader's line breaks."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _day(when: datetime, zone: ZoneInfo, *, t: Texts) -> str:
    return escape(t.date(when, zone))


def _duration(seconds: int, *, t: Texts) -> str:
    """Whole seconds, minutes or hours (rounded up: a wait is never shorter than said)."""
    seconds = max(1, seconds)
    if seconds < 60:
        n = seconds
        text = t.ngettext("{num} second", "{num} seconds", n)
    elif seconds < 3600:
        n = ceil(seconds / 60)
        text = t.ngettext("{num} minute", "{num} minutes", n)
    else:
        n = ceil(seconds / 3600)
        text = t.ngettext("{num} hour", "{num} hours", n)
    return text.format(num=_num(n, t=t))


def _wait(wait: timedelta, *, t: Texts) -> str:
    return _duration(ceil(wait.total_seconds()), t=t)


def _per(limit: RateLimit, *, t: Texts) -> str:
    """A rate limit as a phrase: "3 comments a minute", "5 comments in 2 hours"."""
    n = limit.count
    if limit.per == 1.0:
        text = t.ngettext("{num} comment a second", "{num} comments a second", n)
    elif limit.per == 60.0:
        text = t.ngettext("{num} comment a minute", "{num} comments a minute", n)
    elif limit.per == 3600.0:
        text = t.ngettext("{num} comment an hour", "{num} comments an hour", n)
    elif limit.per == 86400.0:
        text = t.ngettext("{num} comment a day", "{num} comments a day", n)
    else:
        # Translators: a rate limit; {span} is a duration such as "2 hours".
        text = t.ngettext("{num} comment in {span}", "{num} comments in {span}", n)
        return text.format(num=_num(n, t=t), span=_duration(ceil(limit.per), t=t))
    return text.format(num=_num(n, t=t))


# --- refusals -----------------------------------------------------------------------------

NOT_ENABLED = N_("Comments are not enabled here.")
BANNED = N_("Sorry, you can no longer comment.")
NOT_TEXT = N_(
    "Only text comments are accepted. Please write your comment as a text message in reply "
    "to the story."
)
EMPTY = N_("Your comment is empty. Please write a few words.")
REPEAT = N_("You have already sent this comment.")
NO_LINKS = N_(
    "Comments with links are not accepted here. Please remove the link and send your "
    "comment again."
)
LINK_ADDED = N_(
    "Links need a moderator's review, so one cannot be added by editing. Send it as a new "
    "comment instead."
)
EDIT_KEPT = N_("Your comment keeps its earlier text.")
HOW_TO_COMMENT = N_(
    "That message is not a story, so your reply was not sent as a comment. To comment, "
    "reply to a story I sent you (a news push, a /latest list or a story opened from a "
    "link), or tap ✍️ Write a comment under it."
)
STORY_GONE = N_("That story is no longer available, so it cannot be commented on.")
_TOO_LONG = N_("Your comment is too long. Please shorten it.")
_TOO_OFTEN = N_("You are commenting too often. Please wait a little.")

_REFUSALS = {
    Refusal.DISABLED: NOT_ENABLED,
    Refusal.BANNED: BANNED,
    Refusal.NOT_TEXT: NOT_TEXT,
    Refusal.EMPTY: EMPTY,
    Refusal.TOO_LONG: _TOO_LONG,
    Refusal.REPEAT: REPEAT,
    Refusal.TOO_OFTEN: _TOO_OFTEN,
    Refusal.LINKS: NO_LINKS,
    Refusal.LINK_ADDED: LINK_ADDED,
}


def refusal(refused: Refused, *, t: Texts) -> str:
    """Why a comment was not accepted, naming the figures that matter."""
    if refused.reason is Refusal.TOO_LONG and refused.length:
        return t.ngettext(
            "Your comment is {num} character long; the limit is {limit}. Please shorten "
            "it and send it again.",
            "Your comment is {num} characters long; the limit is {limit}. Please shorten "
            "it and send it again.",
            refused.length,
        ).format(num=_num(refused.length, t=t), limit=_num(refused.limit, t=t))
    if refused.reason is Refusal.TOO_OFTEN and refused.rate and refused.wait is not None:
        # Translators: {rate} is a phrase such as "3 comments a minute", {wait} a duration
        # such as "20 seconds".
        return t._(
            "You are commenting too often (at most {rate}). You can comment again in {wait}."
        ).format(rate=_per(refused.rate, t=t), wait=_wait(refused.wait, t=t))
    return t._(_REFUSALS[refused.reason])


# --- what the relay stored for the reader ----------------------------------------------------

_RELAY_REASONS = {
    REASON_UNREADABLE: N_("The news site could not read this comment."),
    REASON_REFUSED_HERE: N_(
        "The news site does not accept this comment (comments may be closed on the article)."
    ),
    REASON_TOO_LONG: N_("The comment is too long for the news site."),
    REASON_NOT_ACCEPTED: N_("The news site could not accept this comment."),
}


# --- why the moderators rejected a comment ---------------------------------------------------

# Stored in comment.reason as "moderation:<code>" and worded when shown, in the reader's
# language (or the moderators', on the card). The codes travel in the cards' callback data.
MODERATION_PREFIX = "moderation:"
OFF_TOPIC, ABUSIVE, SPAM, DUPLICATE = "off_topic", "abusive", "spam", "duplicate"
MODERATION_REASONS = (OFF_TOPIC, ABUSIVE, SPAM, DUPLICATE)
# What the reader is told, after "Your comment on ‘…’ was not published:".
_MODERATION_SENTENCES = {
    OFF_TOPIC: N_("It is not about the story."),
    ABUSIVE: N_("It is abusive or insulting."),
    SPAM: N_("It looks like spam or advertising."),
    DUPLICATE: N_("It repeats a comment already posted."),
}
# A code this version does not know (from a newer one): still a moderators' decision.
_MODERATION_OTHER = N_("It does not follow the rules for comments.")


def moderation_reason(code: str) -> str:
    """What ``decide`` stores for a rejection with the reason ``code``."""
    return f"{MODERATION_PREFIX}{code}"


def moderation_reason_label(code: str, *, t: Texts) -> str:
    """A reason as a moderator picks it: a card's button, and the verdict line."""
    labels = {
        # Translators: a moderation card's button: reject the comment as off the story's topic.
        OFF_TOPIC: t.pgettext("reason", "Off topic"),
        # Translators: a moderation card's button: reject the comment as abusive.
        ABUSIVE: t.pgettext("reason", "Abusive"),
        # Translators: a moderation card's button: reject the comment as spam or advertising.
        SPAM: t.pgettext("reason", "Spam"),
        # Translators: a moderation card's button: reject the comment as a repeat of another.
        DUPLICATE: t.pgettext("reason", "Duplicate"),
    }
    return labels.get(code, code)


def relay_reason(reason: str, *, t: Texts, limit: int = 0) -> str:
    """A reason the relay or the moderators stored, in the reader's words (HTML, escaped).

    Codes (``news.outlet_answers``) are worded in this language; anything else — the outlet's
    own explanation, or a reason stored before codes existed — is shown as it was stored
    (shortened to ``limit`` characters when one is given).
    """
    if reason.startswith(MODERATION_PREFIX):
        code = reason.removeprefix(MODERATION_PREFIX)
        return t._(_MODERATION_SENTENCES.get(code, _MODERATION_OTHER))
    parsed = parse_reason(reason)
    if parsed is not None:
        code, figures = parsed
        if code in _RELAY_REASONS:
            return t._(_RELAY_REASONS[code])
        status = figures.get("status")
        if code == REASON_REFUSED and status is not None:
            # Translators: {status} is an HTTP status code such as 418.
            return t._("The news site refused this comment (HTTP {status}).").format(
                status=t.isolate(str(status))
            )
        minutes = figures.get("minutes")
        if code == REASON_UNREACHABLE and minutes is not None:
            span = _duration(minutes * 60, t=t) if minutes % 60 == 0 or minutes < 60 else None
            # Never "1.5 hours": a plural form needs a whole number.
            span = span or t.ngettext("{num} minute", "{num} minutes", minutes).format(
                num=_num(minutes, t=t)
            )
            return t._("The news site could not be reached for {span}.").format(span=span)
    return t.isolate(escape(trim(reason, limit) if limit else reason))


# --- the reader's confirmation and its later states -----------------------------------------


def received(title: str, *, t: Texts, paused: bool = False) -> str:
    """The answer to every accepted comment; ``paused``: the site refuses comments for now
    (relaying is paused), which is no moderation and must not be called one."""
    if paused:
        return t._(
            "Comment received on ‘{story}’. The news site is not accepting comments right now; "
            "yours is kept and will be sent when it is."
        ).format(story=headline(title, t=t))
    return t._("Comment received on ‘{story}’ — it will appear after moderation.").format(
        story=headline(title, t=t)
    )


def public_notice(display_name: str, *, t: Texts) -> str:
    """Told once, with the first confirmation: the name is public, and how to change that."""
    return "\n\n" + t._(
        "ℹ️ Your name “{name}” is shown publicly with your comments under the article. /name "
        "changes it; /forget withdraws your comments and deletes what I store about you."
    ).format(name=name(display_name, t=t))


def approved_for_site(title: str, *, t: Texts) -> str:
    """A held comment the moderators approved, now on its way to the outlet."""
    return t._("✅ Your comment on ‘{story}’ was approved and is on its way to the site.").format(
        story=headline(title, t=t)
    )


def status_text(
    comment: CommentView, *, t: Texts, still_trying: bool = False, paused: bool = False
) -> str:
    """What the reader's confirmation says once the comment moved on (``still_trying``:
    still on its way; ``paused``: because the site refuses comments for now)."""
    story = headline(comment.article_title, t=t)
    if still_trying and paused:
        text = t._(
            "⏸ The news site is not accepting comments right now; your comment on ‘{story}’ is "
            "kept and will be sent when it is."
        )
    elif still_trying:
        text = t._(
            "⏳ Your comment on ‘{story}’ has not reached the site yet; I keep trying and "
            "will tell you how it went."
        )
    elif comment.status == PUBLISHED:
        text = t._("✅ Your comment on ‘{story}’ is published.")
    elif comment.status == RELAYED:
        text = t._(
            "✅ Your comment on ‘{story}’ was sent to the site; it appears there after the "
            "site's moderation."
        )
    elif comment.status == REJECTED and comment.reason:
        return t._("❌ Your comment on ‘{story}’ was not published: {reason}").format(
            story=story, reason=relay_reason(comment.reason, t=t)
        )
    elif comment.status == REJECTED:
        text = t._("❌ Your comment on ‘{story}’ was not published.")
    elif comment.status == FAILED:
        text = t._(
            "❌ Your comment on ‘{story}’ could not be delivered to the site. Please try "
            "again later."
        )
    else:
        return received(comment.article_title, t=t)
    return text.format(story=story)


# --- choosing, prompting, editing ------------------------------------------------------------

CHOOSE_STORY = N_("Which story is your comment about?")
# Translators: the grey hint in the reader's text field while they write a comment.
PROMPT_PLACEHOLDER = N_("Your comment")
NOT_YOUR_COMMENT = N_("Only the author of the comment can choose.")
ALREADY_CHOSEN = N_("The story for this comment was already chosen.")
COMMENT_GONE = N_("This comment no longer exists.")


def choice_label(number: int, title: str, *, t: Texts) -> str:
    """A button naming one story of a list (plain text: buttons take no markup)."""
    # Translators: a button naming one story of a numbered list (plain text, no markup).
    return t.pgettext("button", "{number}. {title}").format(
        number=t.number(number), title=t.isolate(trim(title, 48))
    )


def prompt(title: str, *, t: Texts) -> str:
    """The ForceReply prompt that asks for a comment."""
    return t._(
        "✍️ Write your comment on ‘{story}’ and send it: as a reply to this message, or as your "
        "next message within 5 minutes. It is published with your name after moderation."
    ).format(story=headline(title, t=t))


def updated(title: str, *, t: Texts) -> str:
    """An edit before relay changed the stored comment."""
    return t._("✏️ Updated: your comment on ‘{story}’ now has the new text.").format(
        story=headline(title, t=t)
    )


def too_late(comment: CommentView, *, t: Texts) -> str:
    """An edit after the comment left the bot."""
    if comment.status == PUBLISHED:
        return t._("Your comment is already published and can no longer be changed.")
    if comment.status == REJECTED:
        return t._("Your comment was already decided on and can no longer be changed.")
    return t._("Your comment was already sent to the site and can no longer be changed.")


# --- /name --------------------------------------------------------------------------------

NAME_PRIVATE_ONLY = N_("Send /name in a private chat with me.")
# Translators: "reset" is what the reader types; keep it in English.
NAME_USAGE = N_(
    "<code>/name Your Name</code> changes it (up to 64 characters); <code>/name reset</code> "
    "goes back to your Telegram name."
)


def name_shown(display_name: str, chosen: bool, *, t: Texts) -> str:
    """/name without arguments."""
    if chosen:
        signed = t._("Your comments are signed “{name}” (the name you chose).")
    else:
        signed = t._("Your comments are signed “{name}” (your Telegram name).")
    kept = t._("Comments already sent to the site keep the name they were sent with.")
    return f"{signed.format(name=name(display_name, t=t))}\n{t._(NAME_USAGE)}\n{kept}"


def name_set(display_name: str, *, t: Texts) -> str:
    """/name NEW NAME or /name reset, done."""
    return t._("✅ Your comments will be signed “{name}”.").format(name=name(display_name, t=t))


def name_refused(refused: Refused, *, t: Texts) -> str:
    """A name /name cannot take."""
    if refused.reason is Refusal.TOO_LONG:
        return t.ngettext(
            "That name is {num} character long; the limit is {limit}.",
            "That name is {num} characters long; the limit is {limit}.",
            refused.length,
        ).format(num=_num(refused.length, t=t), limit=_num(NAME_MAX, t=t))
    if refused.reason is Refusal.LINKS:
        return t._("A name cannot hold a link.")
    return t._("That name has no visible letters.") + " " + t._(NAME_USAGE)


# --- /mycomments and /comments -------------------------------------------------------------

STATUS_LABELS = {
    CHOOSING: ("❔", N_("waiting for you to choose the story")),
    HELD: ("🕓", N_("waiting for the moderators")),
    QUEUED: ("📤", N_("being sent to the site")),
    RELAYED: ("📨", N_("at the site, awaiting its moderation")),
    PUBLISHED: ("✅", N_("published")),
    REJECTED: ("❌", N_("not published")),
    FAILED: ("⚠️", N_("could not be delivered")),
}
MY_COMMENTS_PRIVATE_ONLY = N_("Send /mycomments in a private chat with me.")
NO_OWN_COMMENTS = N_(
    "You have not commented yet. Reply to a story I sent you, or tap ✍️ Write a comment under it."
)
COMMENTS_USAGE = N_(
    "Reply <code>/comments</code> to a story, or send <code>/comments</code> with the story's "
    "number (the one in its <code>/start s_…</code> link)."
)
WHICH_STORY_COMMENTS = N_("Comments on which story?")
LIST_TOO_OLD = N_("This list is too old; send /comments again.")


def status_label(status: str, *, t: Texts) -> tuple[str, str]:
    """A comment state's emoji and words."""
    emoji, label = STATUS_LABELS.get(status, ("•", ""))
    return emoji, t._(label) if label else status


def my_comments(
    comments: Sequence[CommentView],
    zone: ZoneInfo,
    *,
    t: Texts,
    links: Mapping[int, str] | None = None,
) -> str:
    """A reader's recent comments, newest first, each with its state; a published one links
    to where the site shows it (``links``: comment id → URL)."""
    if not comments:
        return t._(NO_OWN_COMMENTS)
    heading = t._("Your recent comments")
    lines = [f"<b>{heading}</b>"]
    used = len(lines[0])
    for comment in comments:
        emoji, label = status_label(comment.status, t=t)
        link = (links or {}).get(comment.id) if comment.status == PUBLISHED else None
        if link:  # an http(s) address: news.outlet_events accepts no other
            label = f'<a href="{escape(link)}">{label}</a>'
        if comment.reason:
            # Translators: a comment's state and why, in a /mycomments entry.
            label = t._("{status}: {reason}").format(
                status=label, reason=relay_reason(comment.reason, t=t, limit=120)
            )
        entry = (
            f"\n{emoji} <b>{headline(comment.article_title, t=t)}</b> · "
            f"{_day(comment.created_at, zone, t=t)} · {label}\n"
            f"<i>{t.isolate(escape(trim(comment.text, 80)))}</i>"
        )
        # Escaped HTML is longer than what Telegram counts: a safe over-estimate.
        if used + len(entry) + 1 > _BUDGET:
            break
        lines.append(entry)
        used += len(entry) + 1
    return "\n".join(lines)


def comment_list(
    title: str, comments: Sequence[CommentView], zone: ZoneInfo, *, offset: int, t: Texts
) -> tuple[str, int]:
    """One page of a story's published comments: "Name | date" then the text, newest first;
    with how many fitted in one message (the next page starts after them)."""
    heading = t._("💬 <b>Comments on ‘{story}’</b>").format(story=headline(title, t=t))
    if not comments:
        if offset:
            more = t._("No more comments.")
            return f"{heading}\n\n{more}", 0
        empty = t._("No comments yet. Reply to the story to write the first one.")
        return f"{heading}\n\n{empty}", 0
    parts = [heading]
    used = utf16_len(heading)
    for comment in comments:
        entry = (
            f"\n\n<b>{name(comment.author_name, t=t)}</b> | "
            f"{_day(comment.created_at, zone, t=t)}\n"
            f"{t.isolate(escape(_shorten(comment.text, LIST_TEXT_LIMIT)))}"
        )
        if used + utf16_len(entry) > _BUDGET:
            break
        parts.append(entry)
        used += utf16_len(entry)
    return "".join(parts), len(parts) - 1


# --- moderation ---------------------------------------------------------------------------

ONLY_MODERATORS = N_("Only moderators can decide.")
# Translators: {command} is ban or unban (a command: keep it as it is).
BAN_USAGE = N_(
    "Reply <code>/{command}</code> to a comment's moderation card, or send "
    "<code>/{command}</code> with the reader's numeric Telegram id."
)
CARD_UNKNOWN = N_("I cannot find the comment of that card any more.")
# A card's first line names its comment: "🛡 Comment #12 to review" in any language. /ban
# replied to a card finds the comment by the first run of ASCII digits on that line (the id
# is never shown in a locale's own digits).
_CARD_MARK = "🛡"
_CARD_ID = re.compile(r"[0-9]{1,12}")
_HELD_FOR = {
    "links": N_("<b>Held because</b> it contains a link"),
    "moderation": N_("<b>Held because</b> every comment is reviewed here"),
}
_HELD = N_("<b>Held for review</b>")


def moderation_card(comment: CommentView, *, t: Texts, edited: bool = False) -> str:
    """A held comment for the moderators: story, author, why it waits, and the text."""
    # Translators: a moderation card's title; keep "#{id}" (a /ban reply reads the id).
    title = t._("🛡 Comment #{id} to review").format(id=t.isolate(str(comment.id)))
    why = _HELD_FOR.get(comment.held_for or "", _HELD)
    lines = [
        f"<b>{title}</b>",
        t._("<b>Story:</b> {story}").format(story=headline(comment.article_title, t=t)),
        t._("<b>Author:</b> {author}").format(author=name(comment.author_name, t=t)),
        t._(why),
    ]
    if edited:
        lines.append(t._("✏️ <i>Edited by its author; this card shows the new text.</i>"))
    head = "\n".join(lines) + "\n\n"
    # Telegram counts the text after parsing, so the reader's text is measured unescaped;
    # a verdict line is appended later.
    room = _BUDGET - utf16_len(head) - 200
    limit = len(comment.text)
    while utf16_len(_shorten(comment.text, limit)) > room:
        limit -= 100
    return head + t.isolate(escape(_shorten(comment.text, max(limit, 1))))


def card_comment_id(card_text: str | None) -> int | None:
    """The comment a moderation card is about, from its (parsed) text, in any language."""
    first = (card_text or "").split("\n", 1)[0]
    if not first.startswith(_CARD_MARK):
        return None
    match = _CARD_ID.search(first)
    return int(match.group(0)) if match else None


def verdict(approved: bool, by: str, *, to_site: bool, t: Texts, reason: str | None = None) -> str:
    """The line added to a card once someone decided (``reason``: a MODERATION_REASONS code
    the rejection gave the reader)."""
    if not approved and reason:
        # Translators: on a moderation card; {reason} is the reason button pressed.
        return t._("❌ Rejected by {moderator} ({reason})").format(
            moderator=name(by, t=t), reason=moderation_reason_label(reason, t=t)
        )
    if not approved:
        text = t._("❌ Rejected by {moderator}")
    elif to_site:
        text = t._("✅ Approved by {moderator} — on its way to the site")
    else:
        text = t._("✅ Approved by {moderator}")
    return text.format(moderator=name(by, t=t))


def already_decided(comment: CommentView | None, *, t: Texts) -> str:
    """The line a stale card gets when pressed after the decision."""
    if comment is None:
        return t._("This comment no longer exists (its author withdrew it).")
    if comment.status == HELD:
        return t._(
            "The author edited this comment since this card was sent; decide on its newest card."
        )
    _, label = status_label(comment.status, t=t)
    return t._("Already decided: {status}.").format(status=label)


def banned(user_id: int, changed: bool, *, t: Texts) -> str:
    """/ban done (or nothing to do)."""
    reader = t.isolate(str(user_id))  # an id, not a figure: ASCII digits, copyable
    if not changed:
        return t._("Reader {id} was already banned from commenting.").format(id=reader)
    return t._("🚫 Reader {id} can no longer comment. /unban {id} undoes this.").format(id=reader)


def unbanned(user_id: int, changed: bool, *, t: Texts) -> str:
    """/unban done (or nothing to do)."""
    reader = t.isolate(str(user_id))
    if not changed:
        return t._("Reader {id} was not banned.").format(id=reader)
    return t._("✅ Reader {id} may comment again.").format(id=reader)


# --- /forget ------------------------------------------------------------------------------
# The comment parts of /forget's question and answer (bot.handlers.preferences builds them and
# translates them with the reader's texts).

# Translators: part of /forget's question; keep the space at the end.
FORGET = N_(
    "In a private chat it also deletes your comment name and your comments here, and asks "
    "the site to delete the comments it received from you. "
)
# Translators: part of /forget's answer; keep the space at the end.
FORGOTTEN_ON_SITE = N_("The site was asked to delete the comments it received from you. ")
