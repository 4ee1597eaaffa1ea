"""The packages import one way: news below storage, storage below jobs, jobs below bot.

Read from the source with ``ast`` (function-level imports included), so an import hidden
inside a function breaks the rule as surely as one at the top.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each package may import from the project; anything else of the project is refused.
ALLOWED = {
    "news": {"news"},
    "storage": {"news", "storage"},
    "jobs": {"news", "storage", "jobs"},
    "bot": {"news", "storage", "jobs", "bot"},
}
PROJECT = set(ALLOWED)
# Outside libraries the pure rules must not touch: Telegram, HTTP, databases.
NOT_IN_NEWS = {
    "telegram",
    "aiohttp",
    "httpx",
    "requests",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "aiosqlite",
    "asyncpg",
    "psycopg",
    "apscheduler",
}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_packages_below_it(package: str) -> None:
    wrong = []
    for path in modules_of(package):
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top in PROJECT and top not in ALLOWED[package]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert wrong == []


def test_the_pure_rules_import_no_telegram_http_or_database_library() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules_of("news")
        for name in imported_modules(path)
        if name.split(".")[0] in NOT_IN_NEWS
    ]
    assert wrong == []


def test_handlers_reach_workers_only_through_the_services_they_are_given() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in modules_of("bot/handlers")
        for name in imported_modules(path)
        if name.split(".")[0] == "jobs"
    ]
    assert wrong == []


def test_the_rule_reader_sees_every_module() -> None:
    # Guards the guard: a rename that empties a package would make the checks above vacuous.
    assert all(len(modules_of(package)) >= 5 for package in ALLOWED)
    assert "news.search_words" in imported_modules(ROOT / "storage" / "stories.py")
