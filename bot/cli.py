"""The ``newsbot`` command: run, poll, latest, check, db upgrade, migrate-sqlite-to-postgres."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

# Only what every command needs is imported here: `newsbot --help` and `newsbot latest` must
# start in well under a second, so Telegram, the scheduler and the HTTP clients are imported
# by the commands that use them (each command's function imports its own).
from bot.config import ConfigError, Settings, as_async_database_url, load_settings
from bot.logs import configure_logging, redact_url

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from bot.i18n import Texts
    from bot.sections import SectionCatalogue
    from storage.records import StoryView


def _positive_count(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number from 1 to 1000")
    return int(raw)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="A Telegram bot that pushes a news outlet's stories to its readers. "
        "Configuration comes from environment variables and .env (see .env.example).",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands.add_parser(
        "run",
        help="run the bot: feed polling plus Telegram (needs TELEGRAM_BOT_TOKEN)",
        description="Run the bot: poll every feed on its schedule and serve Telegram updates "
        "(long polling, or a webhook server when WEBHOOK_URL is set). Upgrades the database "
        "first.",
    )
    commands.add_parser(
        "poll",
        help="poll every feed once and print what was stored (no Telegram token needed)",
        description="Poll every configured feed once, store the stories and print them. "
        "A feed's first poll stores its items as backlog (never pushed).",
    )
    latest = commands.add_parser(
        "latest",
        help="print stored stories, newest first",
        description="Print stored stories, newest first. QUERY names a section, or else "
        "searches titles, summaries and categories.",
    )
    latest.add_argument("query", nargs="*", metavar="QUERY", help="a section or search words")
    latest.add_argument(
        "-n", type=_positive_count, default=10, metavar="N", help="how many (default 10)"
    )
    commands.add_parser(
        "check",
        help="validate the configuration, reach every feed and the Bot API",
        description="Validate the configuration, fetch every feed, and call getMe when "
        "TELEGRAM_BOT_TOKEN is set. Exits non-zero when anything fails.",
    )
    database = commands.add_parser(
        "db", help="database maintenance", description="Database maintenance."
    )
    db_commands = database.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser(
        "upgrade",
        help="apply pending migrations",
        description="Apply every pending migration to DATABASE_URL.",
    )
    move = commands.add_parser(
        "migrate-sqlite-to-postgres",
        help="copy an SQLite installation into an empty PostgreSQL database",
        description="Copy everything (feeds, stories, subscribers and their settings, "
        "deliveries, comments and the outbox) from an SQLite database into an empty "
        "PostgreSQL database, keeping every id. Stop the bot first; then point DATABASE_URL "
        "at the destination.",
    )
    move.add_argument("source", metavar="SRC", help="SQLite URL or file, e.g. newsbot.db")
    move.add_argument(
        "destination", metavar="DST", help="PostgreSQL URL, e.g. postgresql://user@host/newsbot"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``newsbot`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "migrate-sqlite-to-postgres":
        # Needs no bot settings: both databases are named on the command line.
        return _migrate_to_postgres(args.source, args.destination)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secret_values())
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from storage.reachability import DatabaseUnavailableError, explain

    if args.command != "check":  # check reports the database as one of its lines
        problem = _database_problem(settings.database_url)
        if problem:
            print(f"newsbot: DATABASE_URL: {problem}.", file=sys.stderr)
            return 1
    try:
        if args.command == "run":
            from bot.app import run_bot

            return run_bot(settings)
        if args.command == "poll":
            return asyncio.run(_poll(settings))
        if args.command == "latest":
            return asyncio.run(_latest(settings, " ".join(args.query), args.n))
        if args.command == "check":
            from bot.checks import run_checks

            return asyncio.run(run_checks(settings))
        if args.command == "db":
            return asyncio.run(_db_upgrade(settings))
    except ConfigError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    except DatabaseUnavailableError as exc:
        print(f"newsbot: DATABASE_URL: {exc}.", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        # The database went away after the first check (a restart, a dropped database).
        reason = explain(exc, make_url(settings.database_url))
        if reason is None:
            raise
        print(f"newsbot: DATABASE_URL: {reason}.", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 2


def _database_problem(url: str) -> str | None:
    """One sentence on why DATABASE_URL cannot be used, or None when it can."""

    from storage.engine import create_engine
    from storage.reachability import DatabaseUnavailableError, ensure_reachable

    async def probe() -> None:
        engine = create_engine(url)
        try:
            await ensure_reachable(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(probe())
    except DatabaseUnavailableError as exc:
        return str(exc)
    return None


async def _poll(settings: Settings) -> int:
    from zoneinfo import ZoneInfo

    from bot.services import open_services

    failures = 0
    async with open_services(settings) as services:
        reports = await asyncio.gather(*(services.poller.poll(f.id) for f in services.feeds))
    zone = ZoneInfo(settings.default_timezone)
    names = _section_names(settings)
    for report in reports:
        outcome = report.outcome
        if report.status == "failed":
            failures += 1
            print(f"{redact_url(report.feed.url)}: FAILED — {redact_url(report.error or '')}")
            continue
        if report.status == "not-modified":
            print(f"{redact_url(report.feed.url)}: not modified since the last poll")
            continue
        counts = (
            f"{len(outcome.new)} new, {len(outcome.updated)} updated, "
            f"{len(outcome.backlog)} stored as backlog, {outcome.unchanged} unchanged"
        )
        print(f"{redact_url(report.feed.url)}: {counts}")
        for label, stories in (
            ("new", outcome.new),
            ("updated", outcome.updated),
            ("backlog", outcome.backlog),
        ):
            for story in stories:
                print(_story_line(story, zone, names, label))
    return 1 if failures == len(reports) and reports else 0


def _section_names(
    settings: Settings, catalogue: SectionCatalogue | None = None
) -> tuple[Texts, dict[str, str]]:
    """The offered sections named in the default edition's language (the operator's)."""
    from bot.i18n import chat_locale, texts
    from bot.sections import SectionCatalogue

    t = texts(chat_locale(None, None, settings.default_edition))
    return t, (catalogue or SectionCatalogue.from_settings(settings)).names(t)


async def _latest(settings: Settings, query: str, limit: int) -> int:
    # Only storage and the section names: no Telegram, scheduler or HTTP client to load.
    from zoneinfo import ZoneInfo

    from bot.sections import SectionCatalogue
    from storage import stories as story_store
    from storage.engine import create_engine, create_session_factory
    from storage.migrate import upgrade_database

    # A section by its slug or any of its names; anything else is searched for.
    catalogue = SectionCatalogue.from_settings(settings)
    section = catalogue.find(query) if query.strip() else None
    engine = create_engine(settings.database_url)
    try:
        await upgrade_database(engine)  # a fresh database answers "no stories", not an error
        async with create_session_factory(engine)() as session:
            if not query.strip():
                stories = await story_store.latest_stories(session, limit=limit)
            elif section is not None:
                stories = await story_store.latest_stories(session, limit=limit, section=section)
            else:
                stories = await story_store.search_stories(session, query, limit=limit)
    finally:
        await engine.dispose()
    if not stories:
        print("No stories found." if query else "No stories stored yet; try `newsbot poll`.")
        return 0
    zone = ZoneInfo(settings.default_timezone)
    names = _section_names(settings, catalogue)
    for story in stories:
        print(_story_line(story, zone, names))
    return 0


def _story_line(
    story: StoryView, zone: ZoneInfo, names: tuple[Texts, dict[str, str]], label: str = ""
) -> str:
    from bot.render import section_label

    when = story.sort_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    t, by_slug = names
    # As story headers show them: offered sections by name, "News" for a story in none.
    sections = section_label(story, by_slug, t=t)
    tag = f"[{label}] " if label else ""
    return f"  {tag}{when}  ({sections})  {story.title}\n      {story.link or '(no link)'}"


async def _db_upgrade(settings: Settings) -> int:
    from storage.engine import create_engine
    from storage.migrate import current_revision, head_revision, upgrade_database

    engine = create_engine(settings.database_url)
    try:
        before = await current_revision(engine)
        await upgrade_database(engine)
        after = await current_revision(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"Database already at the newest revision ({after}).")
    else:
        print(f"Database upgraded from {before or 'empty'} to {after} (head {head_revision()}).")
    return 0


def _database_url(raw: str, *, sqlite: bool) -> str:
    if sqlite and "://" not in raw:
        raw = f"sqlite:///{raw}"
    return as_async_database_url(raw)


def _migrate_to_postgres(source_raw: str, destination_raw: str) -> int:
    from sqlalchemy.engine import make_url

    source_url = _database_url(source_raw, sqlite=True)
    destination_url = _database_url(destination_raw, sqlite=False)
    if not source_url.startswith("sqlite"):
        print(f"newsbot: SRC must be an SQLite database (got {source_raw!r}).", file=sys.stderr)
        return 2
    if not destination_url.startswith("postgresql"):
        print(f"newsbot: DST must be a PostgreSQL URL (got {destination_raw!r}).", file=sys.stderr)
        return 2
    path = make_url(source_url).database
    if not path or not Path(path).is_file():
        print(f"newsbot: SRC {source_raw!r} is not an existing SQLite file.", file=sys.stderr)
        return 2
    return asyncio.run(_copy(source_url, destination_url, destination_raw))


async def _copy(source_url: str, destination_url: str, destination_raw: str) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.engine import create_engine
    from storage.transfer import TransferError, copy_database

    source, destination = create_engine(source_url), create_engine(destination_url)
    try:
        copied = await copy_database(source, destination)
    except TransferError as exc:
        print(f"newsbot: nothing copied: {exc}.", file=sys.stderr)
        return 1
    except (OSError, SQLAlchemyError) as exc:
        print(f"newsbot: nothing copied: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        await source.dispose()
        await destination.dispose()
    for table in copied:
        print(f"  {table.table:<16} {table.rows:>10,} rows")
    total = sum(t.rows for t in copied)
    print(f"Copied {total:,} rows. Now set DATABASE_URL={destination_raw} and start the bot.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
