"""The /help and /privacy texts, in Telegram HTML: every command, and what the bot stores.

The comment paragraphs are separate texts, shown only where comments are enabled. Module
constants are gettext msgids marked with ``N_``; the functions take the reader's ``t: Texts``.
"""

from __future__ import annotations

from bot.i18n import N_, Texts
from bot.render import escape

# Translators: part of /help; keep the line break at the end.
COMMENTS_HELP = N_(
    "💬 <b>Comments:</b> reply to a story (or tap ✍️ Write a comment under it) to comment; it is "
    "published with your name after moderation.\n"
    "/comments — read a story's comments (send the command as a reply to the story)\n"
    "/mycomments — your comments and what became of them\n"
    "/name — the name shown with your comments\n"
)
# Translators: part of /privacy; keep the line break at the end.
COMMENTS_PRIVACY = N_(
    "• If you comment: each comment, the story it is about and its state, the name shown "
    "with it (your Telegram name or one you chose with /name), and whether you were told "
    "that name is public. The site receives the comment, that name and an opaque reader "
    "number — never your Telegram id, username or phone number.\n"
)


def help_text(t: Texts, bot: str, *, comments: bool) -> str:
    """Every command, one line each; ``bot`` is the bot's username."""
    lines = [
        t._("<b>What I can do</b>"),
        t._(
            "/subscribe — get all news as it is published (/subscribe kurdistan world for "
            "some sections)"
        ),
        t._("/sections — choose sections with buttons"),
        t._("/unsubscribe — stop pushes (/unsubscribe world for one section)"),
        t._(
            "/latest — the newest stories (/latest kurdistan for a section, /latest oil to search)"
        ),
        t._("/search — find stories by words"),
        t._('/follow — alerts for a word or a "phrase", from any section (/following, /unfollow)'),
        t._("/mute — never push stories that mention a word, e.g. /mute football (/unmute)"),
        t._("/settings — sections, instant pushes or digests, quiet hours, time zone"),
        t._("/quiet — hold pushes overnight, e.g. /quiet 23:00-07:00"),
        t._("/timezone — set your time zone by your city, e.g. /timezone Berlin"),
        t._("/language — the bot's language and the editions you read"),
    ]
    if comments:
        lines.append(t._(COMMENTS_HELP).rstrip("\n"))
    lines += [
        t._("/privacy — what I store and how to delete it"),
        "",
        # Translators: {bot} is the bot's username; keep "@{bot}" together.
        t._("In any chat, type <code>@{bot} kirkuk</code> to find and share a story.").format(
            bot=escape(bot)
        ),
    ]
    return "\n".join(lines)


def privacy_text(t: Texts) -> str:
    """What is stored and how to delete it."""
    lines = [
        t._("<b>What I store</b>"),
        t._(
            "• This chat's id and type (and a group's title), the language Telegram reports "
            "and the language and editions you choose, your time zone, the sections and "
            "keywords you follow, how and when you want pushes — to send you the news you "
            "asked for."
        ),
        t._(
            "• Which stories were pushed to you, with the message id, for a week (so that a "
            "correction can edit the message)."
        ),
        t._(COMMENTS_PRIVACY).rstrip("\n"),
        t._(
            "• A reply you write in the thread of one of the outlet's channel posts (in the "
            "channel's discussion group) becomes a comment on that story too, stored and sent "
            "to the site like the comments you write here; /forget deletes those as well."
        ),
        t._(
            "• Nothing else: no phone number, no contacts, no messages beyond the commands "
            "you send and the comments you write."
        ),
        "",
        t._("<b>How to delete it</b>"),
        t._(
            "/unsubscribe stops all pushes. /forget deletes everything stored about this "
            "chat, including your comments and your comment name."
        ),
    ]
    return "\n".join(lines)
