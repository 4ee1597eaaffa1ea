"""The command menu: each command with its description, in every language we speak."""

from __future__ import annotations

from telegram import BotCommand

from bot.i18n import N_, Texts

# In English; bot/app.py registers it once per language, /language once per chat.
COMMANDS = (
    BotCommand("latest", N_("The newest stories")),
    BotCommand("search", N_("Find stories by words")),
    BotCommand("subscribe", N_("Get new stories as they are published")),
    BotCommand("sections", N_("Choose sections")),
    BotCommand("unsubscribe", N_("Stop pushes")),
    BotCommand("settings", N_("Sections, delivery, quiet hours, time zone")),
    BotCommand("language", N_("Choose your language and editions")),
    BotCommand("follow", N_('Alerts for a word or a "phrase"')),
    BotCommand("following", N_("The keywords you follow")),
    BotCommand("unfollow", N_("Stop keyword alerts")),
    BotCommand("mute", N_("Never push stories that mention a word")),
    BotCommand("quiet", N_("Quiet hours, e.g. /quiet 23:00-07:00")),
    BotCommand(
        "comments", N_("Read a story's comments (send the command as a reply to the story)")
    ),
    BotCommand("mycomments", N_("Your comments and their status")),
    BotCommand("name", N_("The name shown with your comments")),
    BotCommand("help", N_("Everything the bot can do")),
    BotCommand("privacy", N_("What is stored and how to delete it")),
)


def command_menu(t: Texts) -> list[BotCommand]:
    """The command menu in one language."""
    return [BotCommand(c.command, t._(c.description)) for c in COMMANDS]
