"""The ``newsbot`` command, in-process through ``bot.cli.main`` and once as a real process."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from bot.cli import main
from storage.migrate import head_revision
from tests.auxil.cli_feeds import NOW, WORLD, rss
from tests.auxil.databases import (
    postgres_admin_url,
    postgres_required,
    postgres_unavailable_reason,
)
from tests.auxil.feed_server import FeedServer, Reply
from tests.auxil.processes import process_environment, run_bot_command
from tests.fake_bot_api import FakeBotApi

# ``main`` configures the root logger for a process: each test here puts it back.
pytestmark = pytest.mark.usefixtures("restore_logging")

# The bare feed's category "Sport" is a section only because the operator maps it.
SPORT = "sports=Sport|Athletics"


def configure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> str:
    """Point the CLI at a SQLite file in tmp_path plus any other variables; return its URL."""
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DEFAULT_TIMEZONE", "UTC")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return database_url


async def run_cli(*argv: str) -> int:
    """``newsbot ARGV`` in-process; a worker thread, since ``main`` runs its own event loop."""
    return await asyncio.to_thread(main, list(argv))


def lines_of(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()]


def story_line(when: datetime, sections: str, title: str, label: str = "") -> str:
    tag = f"[{label}] " if label else ""
    return f"  {tag}{when:%Y-%m-%d %H:%M}  ({sections})  {title}"


def feeds_value(server: FeedServer) -> str:
    return f"world={server.url('/world.rss')},{server.url('/all.rss')}"


# --- poll -------------------------------------------------------------------------------------


async def test_poll_prints_backlog_then_new_then_not_modified(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(
        monkeypatch,
        tmp_path,
        FEEDS=feeds_value(cli_outlet),
        SECTIONS=SPORT,
        DEFAULT_TIMEZONE="Asia/Baghdad",
    )
    baghdad = ZoneInfo("Asia/Baghdad")

    assert await run_cli("poll") == 0
    out = lines_of(capsys.readouterr().out)
    world, everything = cli_outlet.url("/world.rss"), cli_outlet.url("/all.rss")
    assert f"{world}: 0 new, 0 updated, 2 stored as backlog, 0 unchanged" in out
    assert f"{everything}: 0 new, 0 updated, 1 stored as backlog, 0 unchanged" in out
    for _, title, minutes_ago, _ in WORLD:
        when = (NOW - timedelta(minutes=minutes_ago)).astimezone(baghdad)
        assert story_line(when, "World", title, "backlog") in out
    assert "      https://outlet.example/w1" in out
    when = (NOW - timedelta(minutes=90)).astimezone(baghdad)
    assert story_line(when, "Sports", "Erbil marathon draws record crowd", "backlog") in out
    assert not any("[new]" in line for line in out)

    cli_outlet.serve(
        "/world.rss", rss("World", [*WORLD, ("w3", "Border crossing reopens", 2, ())])
    )
    assert await run_cli("poll") == 0
    out = lines_of(capsys.readouterr().out)
    assert f"{world}: 1 new, 0 updated, 0 stored as backlog, 2 unchanged" in out
    when = (NOW - timedelta(minutes=2)).astimezone(baghdad)
    assert story_line(when, "World", "Border crossing reopens", "new") in out
    assert f"{everything}: not modified since the last poll" in out
    assert sum("[new]" in line for line in out) == 1

    assert await run_cli("poll") == 0
    out = lines_of(capsys.readouterr().out)
    assert f"{world}: not modified since the last poll" in out


async def test_poll_exit_code_reflects_failures(
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    feed_server.serve("/ok.rss", rss("OK", WORLD))
    configure(monkeypatch, tmp_path, FEEDS=feed_server.url("/missing.rss"))
    assert await run_cli("poll") == 1
    assert f"{feed_server.url('/missing.rss')}: FAILED — HTTP 404 Not Found" in lines_of(
        capsys.readouterr().out
    )

    # One feed failing among healthy ones is reported, but the poll as a whole succeeded.
    monkeypatch.setenv("FEEDS", f"{feed_server.url('/missing.rss')},{feed_server.url('/ok.rss')}")
    assert await run_cli("poll") == 0
    out = capsys.readouterr().out
    assert "FAILED — HTTP 404 Not Found" in out
    assert "2 stored as backlog" in out


# --- latest -----------------------------------------------------------------------------------


async def test_latest_with_section_search_and_count(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, tmp_path, FEEDS=feeds_value(cli_outlet), SECTIONS=SPORT)
    assert await run_cli("latest") == 0
    assert capsys.readouterr().out.strip() == "No stories stored yet; try `newsbot poll`."
    assert await run_cli("poll") == 0
    capsys.readouterr()

    def titles(out: str) -> list[str]:
        return [line.split(")  ", 1)[1] for line in lines_of(out) if line.startswith("  2")]

    assert await run_cli("latest") == 0
    assert titles(capsys.readouterr().out) == [
        "Drought threatens harvest across Iraq",
        "Erbil marathon draws record crowd",
        "Oil prices climb after OPEC meeting",
    ]
    assert await run_cli("latest", "-n", "1") == 0
    out = capsys.readouterr().out
    assert titles(out) == ["Drought threatens harvest across Iraq"]
    assert "https://outlet.example/w2" in out

    assert await run_cli("latest", "world") == 0
    assert titles(capsys.readouterr().out) == [
        "Drought threatens harvest across Iraq",
        "Oil prices climb after OPEC meeting",
    ]
    # A section by its slug, its name or a category SECTIONS maps to it, case aside.
    for words in (["SPORT"], ["sports"], ["athletics"]):
        assert await run_cli("latest", *words) == 0
        assert titles(capsys.readouterr().out) == ["Erbil marathon draws record crowd"]

    assert await run_cli("latest", "harvest", "iraq") == 0
    assert titles(capsys.readouterr().out) == ["Drought threatens harvest across Iraq"]
    assert await run_cli("latest", "-n", "1", "record") == 0
    assert titles(capsys.readouterr().out) == ["Erbil marathon draws record crowd"]
    assert await run_cli("latest", "volcano") == 0
    assert capsys.readouterr().out.strip() == "No stories found."
    assert await run_cli("latest", '"', "NEAR(", "*") == 0
    assert capsys.readouterr().out.strip() == "No stories found."


@pytest.mark.parametrize("count", ["0", "-1"])
def test_latest_count_must_be_positive(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    count: str,
) -> None:
    configure(monkeypatch, tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["latest", "-n", count])
    assert exited.value.code == 2
    assert "-n" in capsys.readouterr().err


# --- configuration errors ---------------------------------------------------------------------


def test_run_without_token_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(monkeypatch, tmp_path)
    assert main(["run"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("newsbot: TELEGRAM_BOT_TOKEN is missing")
    assert "Traceback" not in captured.err


@pytest.mark.parametrize("command", [["poll"], ["check"], ["latest"], ["db", "upgrade"], ["run"]])
def test_bad_poll_interval_exits_2_naming_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    configure(monkeypatch, tmp_path, POLL_INTERVAL="-5m")
    assert main(command) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "newsbot: POLL_INTERVAL is not valid: '-5m' is not a duration such as 60, 30m or 6h.\n"
    )
    assert not (tmp_path / "cli.db").exists()  # nothing was touched


# --- db upgrade -------------------------------------------------------------------------------


def test_db_upgrade_twice(
    empty_database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    head = head_revision()
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"Database upgraded from empty to {head} (head {head})."
    )
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.strip() == f"Database already at the newest revision ({head})."


# --- check ------------------------------------------------------------------------------------


async def test_check_with_good_feeds_and_no_token(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, tmp_path, FEEDS=feeds_value(cli_outlet), POLL_INTERVAL="90")
    assert await run_cli("check") == 0
    out = lines_of(capsys.readouterr().out)
    assert out[0] == "Configuration: OK"
    assert "  database: sqlite+aiosqlite" in out
    assert "  feeds: 2, polled every 90 s" in out
    assert f"Feed {cli_outlet.url('/world.rss')} [world]: OK — 'World': 2 items" in out
    assert f"Feed {cli_outlet.url('/all.rss')}: OK — 'Everything': 1 items" in out
    assert out[-1] == (
        "Telegram Bot API: skipped (TELEGRAM_BOT_TOKEN is not set; `newsbot run` needs it)"
    )
    assert not (tmp_path / "cli.db").exists()  # check does not create the database


async def test_check_reports_a_failing_feed(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli_outlet.serve("/broken.rss", b"")
    cli_outlet.script("/broken.rss", Reply(500, b"oops"))
    cli_outlet.serve("/page.html", b"<!DOCTYPE html><html><body>hi</body></html>")
    feeds = (
        f"{cli_outlet.url('/world.rss')},{cli_outlet.url('/broken.rss')},"
        f"{cli_outlet.url('/page.html')}"
    )
    configure(monkeypatch, tmp_path, FEEDS=feeds)
    assert await run_cli("check") == 1
    out = lines_of(capsys.readouterr().out)
    assert f"Feed {cli_outlet.url('/world.rss')}: OK — 'World': 2 items" in out
    assert f"Feed {cli_outlet.url('/broken.rss')}: FAILED — HTTP 500 Internal Server Error" in out
    assert (
        f"Feed {cli_outlet.url('/page.html')}: FAILED — not a feed: HTML page, not a feed" in out
    )
    assert out[-1].startswith("Telegram Bot API: skipped")


async def test_check_says_how_many_invalid_utf8_bytes_were_replaced(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The stray byte is in a title, and so in the description that repeats it.
    stray = rss("ڕووداو", [("k1", "هەولێر |", 30, ()), ("k2", "کوردستان", 20, ())])
    cli_outlet.serve("/ckb.rss", stray.replace(b"|", b"\xff"))
    configure(monkeypatch, tmp_path, FEEDS=cli_outlet.url("/ckb.rss"))
    assert await run_cli("check") == 0
    out = lines_of(capsys.readouterr().out)
    assert (
        f"Feed {cli_outlet.url('/ckb.rss')}: OK — 'ڕووداو': 2 items "
        "(invalid UTF-8: 2 byte(s) replaced with U+FFFD)"
    ) in out


async def test_check_with_unreachable_bot_api_fails(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    token = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
    configure(
        monkeypatch,
        tmp_path,
        FEEDS=cli_outlet.url("/world.rss"),
        TELEGRAM_BOT_TOKEN=token,
        TELEGRAM_API_URL=f"http://127.0.0.1:{dead_port}",
    )
    assert await run_cli("check") == 1
    captured = capsys.readouterr()
    last = lines_of(captured.out)[-1]
    assert last.startswith("Telegram Bot API: FAILED — ")
    assert "NetworkError" in last or "cannot reach" in last
    assert token not in captured.out + captured.err


async def test_check_rejected_token_fails_without_printing_the_token(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The Bot API answers 401 for a token it does not know; PTB quotes the token in its error.
    async with FakeBotApi("999:the-real-token") as api:
        token = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ"
        configure(
            monkeypatch,
            tmp_path,
            FEEDS=cli_outlet.url("/world.rss"),
            TELEGRAM_BOT_TOKEN=token,
            TELEGRAM_API_URL=api.url,
        )
        assert await run_cli("check") == 1
    captured = capsys.readouterr()
    last = lines_of(captured.out)[-1]
    assert last.startswith("Telegram Bot API: FAILED — InvalidToken")
    assert token not in captured.out + captured.err
    assert token.split(":")[1] not in captured.out + captured.err


async def test_check_reports_the_database_and_its_schema(
    cli_outlet: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, tmp_path, FEEDS=cli_outlet.url("/world.rss"))
    database = tmp_path / "cli.db"
    assert await run_cli("check") == 0
    assert (
        f"Database: OK — the SQLite file {database} does not exist yet; `newsbot run` creates it"
        in (lines_of(capsys.readouterr().out))
    )
    assert await run_cli("db", "upgrade") == 0
    capsys.readouterr()
    assert await run_cli("check") == 0
    head = head_revision()
    assert f"Database: OK — the SQLite file {database}, schema {head} (the newest)" in lines_of(
        capsys.readouterr().out
    )
    # A newer newsbot migrated this database: this version must not run on it.
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999'")
    assert await run_cli("check") == 1
    out = lines_of(capsys.readouterr().out)
    database_line = next(line for line in out if line.startswith("Database: "))
    assert database_line.startswith(
        f"Database: FAILED — the SQLite file {database} has schema 9999"
    )
    assert f"its newest is {head}" in database_line


def dead_port() -> int:
    with socket.socket() as probe:  # a local port nobody listens on
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unusable_database_urls(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """(DATABASE_URL, the sentence the CLI must print) for each way a URL can be unusable."""
    missing = tmp_path / "no" / "such" / "folder"
    port = dead_port()
    return {
        "sqlite-missing-folder": (
            f"sqlite:///{missing / 'newsbot.db'}",
            f"cannot open the SQLite file {missing / 'newsbot.db'}: "
            f"the folder {missing} does not exist",
        ),
        "sqlite-folder": (
            f"sqlite:///{tmp_path}",
            f"cannot open the SQLite file {tmp_path}: that is a folder, not a file",
        ),
        "postgres-refused": (
            f"postgresql://postgres@127.0.0.1:{port}/newsbot",
            f"nothing accepts connections at 127.0.0.1:{port} (is PostgreSQL running there?)",
        ),
    }


@pytest.mark.parametrize("case", ["sqlite-missing-folder", "sqlite-folder", "postgres-refused"])
@pytest.mark.parametrize("command", [["run"], ["poll"], ["latest"], ["db", "upgrade"], ["check"]])
async def test_an_unusable_database_url_is_one_sentence_for_every_command(
    case: str,
    command: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, sentence = unusable_database_urls(tmp_path)[case]
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ")
    monkeypatch.setenv("TELEGRAM_API_URL", f"http://127.0.0.1:{dead_port()}")
    monkeypatch.setenv("FEEDS", f"http://127.0.0.1:{dead_port()}/rss")
    assert await run_cli(*command) == 1
    captured = capsys.readouterr()
    if command == ["check"]:
        assert f"Database: FAILED — DATABASE_URL: {sentence}" in lines_of(captured.out)
    else:
        assert captured.err == f"newsbot: DATABASE_URL: {sentence}.\n"
        assert captured.out == ""


@pytest.mark.postgres
async def test_a_postgres_database_that_does_not_exist_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reason = await postgres_unavailable_reason()
    if reason:
        if postgres_required():
            pytest.fail(reason)
        pytest.skip(reason)
    url = make_url(postgres_admin_url()).set(database="newsbot_no_such_database")
    monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
    assert await run_cli("latest") == 1
    host = f"{url.host}:{url.port or 5432}" if url.port else url.host
    assert capsys.readouterr().err == (
        f"newsbot: DATABASE_URL: PostgreSQL database 'newsbot_no_such_database' at {host} does "
        "not exist (create it first, e.g. createdb newsbot_no_such_database).\n"
    )


# --- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [[], ["run"], ["poll"], ["latest"], ["check"], ["db"], ["db", "upgrade"]],
    ids=["newsbot", "run", "poll", "latest", "check", "db", "db-upgrade"],
)
def test_help_for_every_command_exits_0(
    capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: newsbot {' '.join(command)}".rstrip())
    assert "-h, --help" in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["frobnicate"])
    assert exited.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


# --- as a real process ------------------------------------------------------------------------


async def test_poll_as_a_process(cli_outlet: FeedServer, tmp_path: Path) -> None:
    env = process_environment(
        FEEDS=feeds_value(cli_outlet),
        DATABASE_URL=f"sqlite:///{tmp_path / 'process.db'}",
        DEFAULT_TIMEZONE="UTC",
    )
    code, out, err = await run_bot_command("poll", cwd=tmp_path, env=env)
    assert code == 0, err
    lines = lines_of(out)
    assert (
        f"{cli_outlet.url('/world.rss')}: 0 new, 0 updated, 2 stored as backlog, 0 unchanged"
        in (lines)
    )
    when = NOW - timedelta(minutes=60)
    assert story_line(when, "World", "Drought threatens harvest across Iraq", "backlog") in lines
    assert "Traceback" not in err
    assert cli_outlet.hits("/world.rss") == 1
    assert (tmp_path / "process.db").exists()


async def test_an_unusable_database_as_a_process_prints_no_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    env = process_environment(DATABASE_URL=f"sqlite:///{missing / 'newsbot.db'}")
    code, out, err = await run_bot_command("latest", cwd=tmp_path, env=env)
    assert code == 1
    assert out == ""
    assert err == (
        f"newsbot: DATABASE_URL: cannot open the SQLite file {missing / 'newsbot.db'}: "
        f"the folder {missing} does not exist.\n"
    )


async def test_bad_configuration_as_a_process(tmp_path: Path) -> None:
    env = process_environment(POLL_INTERVAL="abc")
    code, out, err = await run_bot_command("poll", cwd=tmp_path, env=env)
    assert code == 2
    assert out == ""
    assert err.strip() == (
        "newsbot: POLL_INTERVAL is not valid: 'abc' is not a duration such as 60, 30m or 6h."
    )


@pytest.mark.parametrize("argv", [["--help"], ["latest"], ["latest", "oil"]])
async def test_help_and_latest_load_neither_telegram_nor_the_scheduler(
    argv: list[str], tmp_path: Path
) -> None:
    # Start-up time is mostly imports: these commands must not pay for the bot's.
    script = (
        "import sys\n"
        "from bot.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = {'telegram', 'apscheduler', 'aiohttp', 'httpx', 'tornado', 'feedparser'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    env = process_environment(DATABASE_URL=f"sqlite:///{tmp_path / 'cli.db'}")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    assert out.decode().strip().splitlines()[-1] == "[]"
