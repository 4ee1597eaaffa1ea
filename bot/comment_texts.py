"""Every text about comments that readers and moderators see, in Telegram HTML, in one place.

English for now; issue 7 moves them into gettext, so they stay module constants and small
functions of plain values. Anything that came from a reader or a feed is escaped here, and
right-to-left runs are isolated so the text around them keeps its order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from math import ceil
from zoneinfo import ZoneInfo

from bot.comment_rules import NAME_MAX, Refusal, Refused
from bot.config import RateLimit
from bot.render import escape, isolate, trim, utf16_len
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


def headline(title: str) -> str:
    """A story's headline inside a sentence: escaped, shortened, direction-isolated."""
    return isolate(escape(trim(title, 120))) if title.strip() else "the story"


def name(value: str) -> str:
    """A reader's display name inside a sentence."""
    return isolate(escape(value))


def _shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space, keeping the reader's line breaks."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip() + "…"


def _day(when: datetime, zone: ZoneInfo) -> str:
    return f"{when.astimezone(zone):%d %b %Y}"


def _wait(wait: timedelta) -> str:
    seconds = max(1, ceil(wait.total_seconds()))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 3600:
        minutes = ceil(seconds / 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = ceil(seconds / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _per(limit: RateLimit) -> str:
    per = {1.0: "a second", 60.0: "a minute", 3600.0: "an hour", 86400.0: "a day"}
    noun = "comment" if limit.count == 1 else "comments"
    span = per.get(limit.per) or f"in {_wait(timedelta(seconds=limit.per))}"
    return f"{limit.count} {noun} {span}"


# --- refusals -----------------------------------------------------------------------------

NOT_ENABLED = "Comments are not enabled here."
BANNED = "Sorry, you can no longer comment."
NOT_TEXT = (
    "Only text comments are accepted. Please write your comment as a text message in reply "
    "to the story."
)
EMPTY = "Your comment is empty. Please write a few words."
REPEAT = "You have already sent this comment."
NO_LINKS = (
    "Comments with links are not accepted here. Please remove the link and send your "
    "comment again."
)
LINK_ADDED = (
    "Links need a moderator's review, so one cannot be added by editing. Send it as a new "
    "comment instead."
)
EDIT_KEPT = "Your comment keeps its earlier text."
HOW_TO_COMMENT = (
    "That message is not a story, so your reply was not sent as a comment. To comment, "
    "reply to a story I sent you (a news push, a /latest list or a story opened from a "
    "link), or tap 💬 Comment under it."
)
STORY_GONE = "That story is no longer available, so it cannot be commented on."


def refusal(refused: Refused) -> str:
    """Why a comment was not accepted, naming the figures that matter."""
    if refused.reason is Refusal.TOO_LONG:
        return (
            f"Your comment is {refused.length:,} characters long; the limit is "
            f"{refused.limit:,}. Please shorten it and send it again."
        )
    if refused.reason is Refusal.TOO_OFTEN and refused.rate and refused.wait is not None:
        return (
            f"You are commenting too often (at most {_per(refused.rate)}). You can comment "
            f"again in {_wait(refused.wait)}."
        )
    return {
        Refusal.DISABLED: NOT_ENABLED,
        Refusal.BANNED: BANNED,
        Refusal.NOT_TEXT: NOT_TEXT,
        Refusal.EMPTY: EMPTY,
        Refusal.TOO_LONG: "Your comment is too long. Please shorten it.",
        Refusal.REPEAT: REPEAT,
        Refusal.TOO_OFTEN: "You are commenting too often. Please wait a little.",
        Refusal.LINKS: NO_LINKS,
        Refusal.LINK_ADDED: LINK_ADDED,
    }[refused.reason]


# --- the reader's confirmation and its later states -----------------------------------------


def received(title: str) -> str:
    """The answer to every accepted comment."""
    return f"Comment received on ‘{headline(title)}’ — it will appear after moderation."


def public_notice(display_name: str) -> str:
    """Told once, with the first confirmation: the name is public, and how to change that."""
    return (
        f"\n\nℹ️ Your name “{name(display_name)}” is shown publicly with your comments under "
        "the article. /name changes it; /forget withdraws your comments and deletes what I "
        "store about you."
    )


def approved_for_site(title: str) -> str:
    """A held comment the moderators approved, now on its way to the outlet."""
    return f"✅ Your comment on ‘{headline(title)}’ was approved and is on its way to the site."


def status_text(comment: CommentView, *, still_trying: bool = False) -> str:
    """What the reader's confirmation says once the comment moved on."""
    story = headline(comment.article_title)
    if still_trying:
        return (
            f"⏳ Your comment on ‘{story}’ has not reached the site yet; I keep trying and "
            "will tell you how it went."
        )
    if comment.status == PUBLISHED:
        return f"✅ Your comment on ‘{story}’ is published."
    if comment.status == RELAYED:
        return (
            f"✅ Your comment on ‘{story}’ was sent to the site; it appears there after the "
            "site's moderation."
        )
    if comment.status == REJECTED:
        reason = f": {escape(comment.reason)}" if comment.reason else "."
        return f"❌ Your comment on ‘{story}’ was not published{reason}"
    if comment.status == FAILED:
        return (
            f"❌ Your comment on ‘{story}’ could not be delivered to the site. Please try "
            "again later."
        )
    return received(comment.article_title)


# --- choosing, prompting, editing ------------------------------------------------------------

CHOOSE_STORY = "Which story is your comment about?"
PROMPT_PLACEHOLDER = "Your comment"
NOT_YOUR_COMMENT = "Only the author of the comment can choose."
ALREADY_CHOSEN = "The story for this comment was already chosen."
COMMENT_GONE = "This comment no longer exists."


def choice_label(number: int, title: str) -> str:
    """A button naming one story of a list (plain text: buttons take no markup)."""
    return f"{number}. {trim(title, 48)}"


def prompt(title: str) -> str:
    """The ForceReply prompt that asks for a comment."""
    return (
        f"💬 Write your comment on ‘{headline(title)}’ and send it. It is published with your "
        "name after moderation."
    )


def updated(title: str) -> str:
    """An edit before relay changed the stored comment."""
    return f"✏️ Updated: your comment on ‘{headline(title)}’ now has the new text."


def too_late(comment: CommentView) -> str:
    """An edit after the comment left the bot."""
    if comment.status == PUBLISHED:
        return "Your comment is already published and can no longer be changed."
    if comment.status == REJECTED:
        return "Your comment was already decided on and can no longer be changed."
    return "Your comment was already sent to the site and can no longer be changed."


# --- /name --------------------------------------------------------------------------------

NAME_PRIVATE_ONLY = "Send /name in a private chat with me."
NAME_USAGE = (
    "<code>/name Your Name</code> changes it (up to 64 characters); <code>/name reset</code> "
    "goes back to your Telegram name."
)


def name_shown(display_name: str, chosen: bool) -> str:
    """/name without arguments."""
    source = "the name you chose" if chosen else "your Telegram name"
    return (
        f"Your comments are signed “{name(display_name)}” ({source}).\n{NAME_USAGE}\n"
        "Comments already sent to the site keep the name they were sent with."
    )


def name_set(display_name: str) -> str:
    """/name NEW NAME or /name reset, done."""
    return f"✅ Your comments will be signed “{name(display_name)}”."


def name_refused(refused: Refused) -> str:
    """A name /name cannot take."""
    if refused.reason is Refusal.TOO_LONG:
        return f"That name is {refused.length} characters long; the limit is {NAME_MAX}."
    if refused.reason is Refusal.LINKS:
        return "A name cannot hold a link."
    return "That name has no visible letters. " + NAME_USAGE


# --- /mycomments and /comments -------------------------------------------------------------

STATUS_LABELS = {
    CHOOSING: ("❔", "waiting for you to choose the story"),
    HELD: ("🕓", "waiting for the moderators"),
    QUEUED: ("📤", "being sent to the site"),
    RELAYED: ("📨", "at the site, awaiting its moderation"),
    PUBLISHED: ("✅", "published"),
    REJECTED: ("❌", "not published"),
    FAILED: ("⚠️", "could not be delivered"),
}
MY_COMMENTS_PRIVATE_ONLY = "Send /mycomments in a private chat with me."
NO_OWN_COMMENTS = (
    "You have not commented yet. Reply to a story I sent you, or tap 💬 Comment under it."
)
COMMENTS_USAGE = (
    "Reply <code>/comments</code> to a story, or send <code>/comments</code> with the story's "
    "number (the one in its <code>/start s_…</code> link)."
)
WHICH_STORY_COMMENTS = "Comments on which story?"
LIST_TOO_OLD = "This list is too old; send /comments again."


def my_comments(comments: Sequence[CommentView], zone: ZoneInfo) -> str:
    """A reader's recent comments, newest first, each with its state."""
    if not comments:
        return NO_OWN_COMMENTS
    lines = ["<b>Your recent comments</b>"]
    used = len(lines[0])
    for comment in comments:
        emoji, label = STATUS_LABELS.get(comment.status, ("•", comment.status))
        reason = f": {escape(trim(comment.reason, 120))}" if comment.reason else ""
        entry = (
            f"\n{emoji} <b>{headline(comment.article_title)}</b> · "
            f"{_day(comment.created_at, zone)} · {label}{reason}\n"
            f"<i>{isolate(escape(trim(comment.text, 80)))}</i>"
        )
        # Escaped HTML is longer than what Telegram counts: a safe over-estimate.
        if used + len(entry) + 1 > _BUDGET:
            break
        lines.append(entry)
        used += len(entry) + 1
    return "\n".join(lines)


def comment_list(
    title: str, comments: Sequence[CommentView], zone: ZoneInfo, *, offset: int
) -> tuple[str, int]:
    """One page of a story's published comments: "Name | date" then the text, newest first;
    with how many fitted in one message (the next page starts after them)."""
    heading = f"💬 <b>Comments on ‘{headline(title)}’</b>"
    if not comments:
        if offset:
            return f"{heading}\n\nNo more comments.", 0
        return f"{heading}\n\nNo comments yet. Reply to the story to write the first one.", 0
    parts = [heading]
    used = utf16_len(heading)
    for comment in comments:
        entry = (
            f"\n\n<b>{name(comment.author_name)}</b> | {_day(comment.created_at, zone)}\n"
            f"{isolate(escape(_shorten(comment.text, LIST_TEXT_LIMIT)))}"
        )
        if used + utf16_len(entry) > _BUDGET:
            break
        parts.append(entry)
        used += utf16_len(entry)
    return "".join(parts), len(parts) - 1


# --- moderation ---------------------------------------------------------------------------

ONLY_MODERATORS = "Only moderators can decide."
ADMINS_ONLY = "Sorry, {command} is only for the bot's administrators."
BAN_USAGE = (
    "Reply <code>/{command}</code> to a comment's moderation card, or send "
    "<code>/{command}</code> with the reader's numeric Telegram id."
)
CARD_UNKNOWN = "I cannot find the comment of that card any more."
_CARD_TITLE = "🛡 Comment #{id} to review"
_CARD_ID = re.compile(r"^🛡 Comment #([0-9]{1,12}) to review")
_HELD_FOR = {
    "links": "it contains a link",
    "moderation": "every comment is reviewed here",
}


def moderation_card(comment: CommentView, *, edited: bool = False) -> str:
    """A held comment for the moderators: story, author, why it waits, and the text."""
    why = _HELD_FOR.get(comment.held_for or "", "held")
    lines = [
        f"<b>{_CARD_TITLE.format(id=comment.id)}</b>",
        f"<b>Story:</b> {headline(comment.article_title)}",
        f"<b>Author:</b> {name(comment.author_name)}",
        f"<b>Held because</b> {why}",
    ]
    if edited:
        lines.append("✏️ <i>Edited by its author; this card shows the new text.</i>")
    head = "\n".join(lines) + "\n\n"
    # Telegram counts the text after parsing, so the reader's text is measured unescaped;
    # a verdict line is appended later.
    room = _BUDGET - utf16_len(head) - 200
    limit = len(comment.text)
    while utf16_len(_shorten(comment.text, limit)) > room:
        limit -= 100
    return head + isolate(escape(_shorten(comment.text, max(limit, 1))))


def card_comment_id(card_text: str | None) -> int | None:
    """The comment a moderation card is about, from its (parsed) text."""
    match = _CARD_ID.match(card_text or "")
    return int(match.group(1)) if match else None


def verdict(approved: bool, by: str, *, to_site: bool) -> str:
    """The line added to a card once someone decided."""
    if not approved:
        return f"❌ Rejected by {name(by)}"
    return f"✅ Approved by {name(by)}" + (" — on its way to the site" if to_site else "")


def already_decided(comment: CommentView | None) -> str:
    """The line a stale card gets when pressed after the decision."""
    if comment is None:
        return "This comment no longer exists (its author withdrew it)."
    if comment.status == HELD:
        return (
            "The author edited this comment since this card was sent; decide on its newest card."
        )
    _, label = STATUS_LABELS.get(comment.status, ("", comment.status))
    return f"Already decided: {label}."


def banned(user_id: int, changed: bool) -> str:
    """/ban done (or nothing to do)."""
    if not changed:
        return f"Reader {user_id} was already banned from commenting."
    return f"🚫 Reader {user_id} can no longer comment. /unban {user_id} undoes this."


def unbanned(user_id: int, changed: bool) -> str:
    """/unban done (or nothing to do)."""
    if not changed:
        return f"Reader {user_id} was not banned."
    return f"✅ Reader {user_id} may comment again."


# --- /help, /privacy, /forget --------------------------------------------------------------

HELP = (
    "💬 <b>Comments:</b> reply to a story (or tap 💬 Comment under it) to comment; it is "
    "published with your name after moderation.\n"
    "/comments — read a story's comments (reply it to the story)\n"
    "/mycomments — your comments and what became of them\n"
    "/name — the name shown with your comments\n"
)
PRIVACY = (
    "• If you comment: each comment, the story it is about and its state, the name shown "
    "with it (your Telegram name or one you chose with /name), and whether you were told "
    "that name is public. The site receives the comment, that name and an opaque reader "
    "number — never your Telegram id, username or phone number.\n"
)
FORGET = (
    "In a private chat it also deletes your comment name and your comments here, and asks "
    "the site to delete the comments it received from you. "
)
FORGOTTEN_ON_SITE = "The site was asked to delete the comments it received from you. "
