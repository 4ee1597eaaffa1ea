"""Storage latency: fill a fresh database with N realistic stories, then time the reads.

Smoke run (CI; a few seconds, SQLite in a temp file)::

    python benchmarks/storage_latency.py --stories 2000 --queries 20

Full runs (each about 3 minutes on a 2-core machine: ~1.5-2 min of fill, the rest timing)::

    python benchmarks/storage_latency.py --stories 1000000 --database sqlite --queries 200
    python benchmarks/storage_latency.py --stories 1000000 --database postgres --queries 200

Trying a change to storage/ on the same data: fill once with ``--keep``, then time the
kept database again with ``--database-url URL --no-fill`` (from a tree that has the change).

What it does:

1. Makes a fresh database: a SQLite file in a temp folder (or ``--database-url``), or a
   throwaway PostgreSQL database on the local server (``--admin-url``, default
   ``TEST_DATABASE_URL`` or ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``), dropped
   at the end unless ``--keep``. Applies the real migrations (``upgrade_database``).
2. Fills it with SQLAlchemy core ``executemany`` inserts into the real ``feed``, ``section``,
   ``story`` and ``story_section`` tables, in batches of ``--batch`` rows and transactions of
   ``--commit-every`` stories, so the FTS5 triggers (SQLite) and the generated tsvector column
   and its GIN index (PostgreSQL) do their real work. Text comes from a vocabulary of a few
   thousand words (English, Kurmanji, Sorani, Arabic and made-up ones) with Zipf frequencies
   plus a thin tail of rare names; publication times spread over the last year, ids grow with
   time. Text is generated in a helper process while the main one inserts.
   On PostgreSQL it then runs ``VACUUM ANALYZE`` (what autovacuum would soon do); SQLite is left
   as the application leaves it (no ``ANALYZE``).
3. Times the real query functions of ``storage.stories``, each in a fresh session as a
   handler would (session open, query, close): ``latest_stories`` (first page, page 2, within a
   section) and ``search_stories`` for common (>10% of stories), medium (~0.5-2%) and rare
   (~10-60 per million) words, the Arabic-script and the Kurmanji ones among the common and
   medium words, two-word queries, and a one-letter query (what inline mode sends on a
   reader's first keystroke). Search words rotate within their class, sections rotate over
   all ten; the "matches" column counts each query's matches (as prefixes). Kinds are
   interleaved round-robin, ``--queries`` timed rounds after ``--warmup`` rounds.
   Prints p50/p95/p99/max in ms and a one-line verdict against the targets (p95 < 20 ms for
   latest; for every kind of search, < 30 ms on SQLite and < 15 ms on PostgreSQL). It
   prints figures and never fails on them.

``--explain`` prints each kind's SQL with its plan (EXPLAIN QUERY PLAN on SQLite, EXPLAIN
(ANALYZE, BUFFERS) on PostgreSQL), captured from the real statements the functions ran.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from bisect import bisect_left
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.engine import create_engine, create_session_factory
from storage.migrate import upgrade_database
from storage.models import Feed, Section, Story, StorySection
from storage.stories import latest_stories, search_stories

# The schema and the search normalisation are still moving: follow whatever storage has.
try:
    from news.search_words import query_terms as _query_terms
    from news.search_words import search_document as _search_document
except ImportError:  # before news.search_words existed
    from storage.stories import search_terms as _query_terms  # type: ignore[attr-defined,no-redef]

    _search_document = None  # type: ignore[assignment]
_STORY_COLUMNS = frozenset(Story.__table__.c.keys())  # type: ignore[attr-defined]

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
LATEST_TARGET_MS = 20.0
SEARCH_TARGET_MS = {"sqlite": 30.0, "postgresql": 15.0}  # p95, every kind of search

# ---------------------------------------------------------------------------------------------
# Realistic text: a Zipf-distributed vocabulary with a thin tail of rare names.


def _words(text: str) -> list[str]:
    return text.split()


# The most frequent words, in rank order: function words and the outlet's staple topics.
_TOP = [
    "the", "û", "of", "li", "and", "ji", "kurdistan", "in", "government", "bi", "في", "said",
    "hikûmet", "من", "iraq", "ku", "العراق", "president", "erbil", "de", "کوردستان", "for",
    "هەولێر", "on", "minister", "parliament", "على", "new", "serok", "security",
]  # fmt: skip
_ENGLISH = _words("""
    election budget oil police court health school university water electricity weather
    market dollar price border protest meeting agreement talks delegation visit statement
    report official spokesman committee council governor province city village people
    children women youth students teachers workers farmers doctors hospital ministry
    federal regional baghdad sulaimani duhok kirkuk halabja zakho ranya koya soran akre
    football match league team player coach stadium festival concert film book music
    theatre poetry history language heritage museum exhibition technology internet phone
    company investment bank salary salaries tax trade export import economy inflation
    attack drone strike army forces peshmerga clashes ceasefire refugees camp displaced
    aid humanitarian flood drought rain snow earthquake fire road bridge airport flight
    opinion analysis interview editorial column debate vote votes campaign candidates
    results turnout parties coalition opposition reform corruption investigation arrest
""")
_KURMANJI = _words("""
    hilbijartin aborî ewlehî pêşmerge wezîr civak çand werzîş xwendekar zanîngeh nexweşxane
    baran berf petrol gaz bajar gund bazar dolar meaş mamoste xwendin ziman dîrok muzîk
    hunermend fîlm pirtûk helbest şano pêşangeh teknolojî înternet pargîdanî veberhênan
    bank bac bazirganî hinarde hawirde enflasyon êriş leşker şer agirbest penaber kamp
    alîkarî lehî ziwabûn erdhej agir pira balafirgeh nêrîn hevpeyvîn gotûbêj deng kampanya
    berendam encam partî hevpeymanî opozîsyon reform gendelî lêkolîn girtin rojname nûçe
    welat dewlet herêm parêzgeh şaredarî meclîs komîte civîn peyman serdan daxuyanî
""")
_SORANI = _words("""
    حکومەت پەرلەمان هەڵبژاردن ئابووری ئاسایش پێشمەرگە سەرۆک وەزیر کۆمەڵگا وەرزش زانکۆ
    نەخۆشخانە باران بەفر نەوت بازاڕ دۆلار مووچە مامۆستا خوێندکار سلێمانی دهۆک کەرکووک
    هەڵەبجە زمان مێژوو مۆسیقا هونەرمەند فیلم کتێب شیعر شانۆ پێشانگا تەکنەلۆژیا کۆمپانیا
    وەبەرهێنان باج بازرگانی هێرش سوپا شەڕ ئاگربەست پەنابەر کەمپ یارمەتی لافاو وشکەساڵی
    بوومەلەرزە ئاگر پرد فڕۆکەخانە بۆچوون چاوپێکەوتن دەنگدان کاندید ئەنجام پارتی گەندەڵی
""")
_ARABIC = _words("""
    بغداد الحكومة البرلمان الانتخابات الاقتصاد النفط الأمن الرئيس الوزير المجتمع الرياضة
    الجامعة المستشفى الطقس السوق الدولار الكهرباء المياه التعليم الرواتب الميزانية
    المحكمة الشرطة الحدود الاحتجاج الاجتماع الاتفاق الوفد الزيارة البيان التقرير المتحدث
    اللجنة المحافظ المدينة القرية الأطفال النساء الشباب الطلاب المعلمين العمال المزارعين
    الأطباء الوزارة الاتحادية الإقليم الموصل البصرة النجف كربلاء الأنبار ديالى صلاح الدين
""")
_ONSETS = ["b", "d", "h", "k", "l", "m", "n", "r", "s", "t", "z", "x", "p", "g", "j", "w", "f"]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "ê", "î", "û"]
_CODAS = ["", "", "", "n", "r", "s", "k", "l", "m", "z", "t", "v"]
_NAME_ENDINGS = ["zad", "van", "ani", "oyi", "ûrî", "kar", "stan", "ord", "ix", "elle"]

HEAD_SIZE = 4000  # Zipf (s=1) head: what the outlet writes every day
TAIL_SIZE = 1200  # rare names: each in a handful to ~200 stories per million
TAIL_MASS_PER_MILLION_DOCS = 200.0  # expected stories per million for the commonest tail name
TITLE_WORDS = (6, 12)
SUMMARY_WORDS = (18, 45)
AVG_WORDS = (sum(TITLE_WORDS) + sum(SUMMARY_WORDS)) / 2

ONE_LETTER = ["k", "s", "h"]

SECTIONS: list[tuple[str, str, float]] = [
    ("news", "News", 0.28),
    ("politics", "Siyaset", 0.16),
    ("kurdistan", "Kurdistan", 0.12),
    ("economy", "Aborî", 0.10),
    ("world", "World", 0.10),
    ("sport", "Werzîş", 0.08),
    ("culture", "Çand", 0.05),
    ("health", "Tendurustî", 0.04),
    ("technology", "Technology", 0.04),
    ("opinion", "بۆچوون", 0.03),
]
SECOND_SECTION_SHARE = 0.2
FEEDS = 12
LANGUAGES = [("ku", 0.55), ("en", 0.25), ("ar", 0.15), ("ckb", 0.05)]
# Each story's edition follows its language (Kurdish "ku" items are the Sorani edition): the
# reader-facing queries below ask for one edition, two, or a small one (Sorani-script "ckb").
EDITION_OF = {"ku": "ckb", "en": "en", "ar": "ar", "ckb": "kmr"}
AUTHORS = [None, None, "Newsroom", "Hêvî Xelîl", "Karwan Ahmed", "سارا محەمەد", "Ali Hassan"]


@dataclass(frozen=True)
class Vocabulary:
    """Words by rank with their token probabilities; identical in every process for a seed."""

    words: list[str]
    probabilities: list[float]
    cumulative: list[float]
    head_size: int


def _synthetic(
    rng: random.Random, taken: set[str], count: int, endings: Sequence[str] = ()
) -> list[str]:
    made: list[str] = []
    while len(made) < count:
        syllables = rng.choice((1, 2, 2, 3, 3, 3, 4))
        word = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)
            for _ in range(syllables)
        )
        if endings:
            word += rng.choice(endings)
        if len(word) >= 3 and word not in taken:
            taken.add(word)
            made.append(word)
    return made


def build_vocabulary(seed: int, reference_docs: int = 1_000_000) -> Vocabulary:
    """A head of HEAD_SIZE words with Zipf (s=1) frequencies, then TAIL_SIZE rare names.

    Tail probabilities are fixed per ``reference_docs`` stories (names do not get commoner
    because the archive is small): the k-th name is in about 200 * k^-0.55 stories per million.
    """
    rng = random.Random(seed)
    taken: set[str] = set(_TOP)
    real = [w for w in (*_ENGLISH, *_KURMANJI, *_SORANI, *_ARABIC) if w not in taken]
    real = list(dict.fromkeys(real))
    taken.update(real)
    rest = real + _synthetic(rng, taken, HEAD_SIZE - len(_TOP) - len(real))
    rng.shuffle(rest)
    head = _TOP + rest
    tail = _synthetic(rng, taken, TAIL_SIZE, _NAME_ENDINGS)
    tail_p = [
        TAIL_MASS_PER_MILLION_DOCS * (k + 1) ** -0.55 / (reference_docs * AVG_WORDS)
        for k in range(TAIL_SIZE)
    ]
    harmonic = sum(1.0 / k for k in range(1, HEAD_SIZE + 1))
    head_mass = 1.0 - sum(tail_p)
    head_p = [head_mass / (k * harmonic) for k in range(1, HEAD_SIZE + 1)]
    probabilities = head_p + tail_p
    return Vocabulary(
        words=head + tail,
        probabilities=probabilities,
        cumulative=list(accumulate(probabilities)),
        head_size=HEAD_SIZE,
    )


_VOCABULARY: dict[int, Vocabulary] = {}


def _vocabulary(seed: int) -> Vocabulary:
    if seed not in _VOCABULARY:
        _VOCABULARY[seed] = build_vocabulary(seed)
    return _VOCABULARY[seed]


_NORMALISED: dict[int, dict[str, str]] = {}
_FAST_SEARCH_TEXT = [True]  # cleared for good if the shortcut ever disagrees with storage


def _search_text(seed: int, title: str, summary: str, words: Sequence[str], check: bool) -> str:
    """``news.search_words.search_document(title, summary)``, from per-word results.

    Normalising word by word from a cache is several times faster than normalising every
    story; ``check`` compares with the real function (done once per batch), and any
    difference switches to the real function for good.
    """
    assert _search_document is not None
    if not _FAST_SEARCH_TEXT[0]:
        return _search_document(title, summary)
    cache = _NORMALISED.get(seed)
    if cache is None:
        cache = _NORMALISED[seed] = {w: _search_document(w) for w in _vocabulary(seed).words}
    fast = " ".join(n for n in map(cache.__getitem__, words) if n)
    if check and fast != _search_document(title, summary):
        _FAST_SEARCH_TEXT[0] = False
        return _search_document(title, summary)
    return fast


@dataclass
class Batch:
    stories: list[dict[str, Any]]
    placements: list[dict[str, Any]]
    seconds: float  # generation time, in the helper process


def make_batch(seed: int, first_id: int, count: int, start_ts: float, span_s: float) -> Batch:
    """Stories ``first_id ..`` published in [start_ts, start_ts + span_s), oldest first."""
    started = time.perf_counter()
    vocab = _vocabulary(seed)
    rng = random.Random(seed * 1_000_003 + first_id)
    words, cumulative = vocab.words, vocab.cumulative
    total = cumulative[-1]
    random_ = rng.random
    title_lengths = [rng.randint(*TITLE_WORDS) for _ in range(count)]
    summary_lengths = [rng.randint(*SUMMARY_WORDS) for _ in range(count)]
    need = sum(title_lengths) + sum(summary_lengths)
    tokens = [words[bisect_left(cumulative, random_() * total)] for _ in range(need)]
    times = sorted(start_ts + random_() * span_s for _ in range(count))
    section_slugs = [s for s, _, _ in SECTIONS]
    section_cum = list(accumulate(w for _, _, w in SECTIONS))
    languages = [lang for lang, _ in LANGUAGES]
    language_cum = list(accumulate(w for _, w in LANGUAGES))
    stories: list[dict[str, Any]] = []
    placements: list[dict[str, Any]] = []
    pos = 0
    for n in range(count):
        story_id = first_id + n
        t_len, s_len = title_lengths[n], summary_lengths[n]
        title_words = tokens[pos : pos + t_len]
        pos += t_len
        summary_words = tokens[pos : pos + s_len]
        pos += s_len
        title = " ".join(title_words)
        title = title[:1].upper() + title[1:]
        cut = s_len // 2
        summary = (
            " ".join(summary_words[:cut]).capitalize()
            + ". "
            + " ".join(summary_words[cut:]).capitalize()
            + "."
        )
        published = datetime.fromtimestamp(times[n], UTC)
        seen = published + timedelta(seconds=30 + 600 * random_())
        section = section_slugs[bisect_left(section_cum, random_() * section_cum[-1])]
        sections = {section}
        if random_() < SECOND_SECTION_SHARE:
            sections.add(section_slugs[bisect_left(section_cum, random_() * section_cum[-1])])
        link = f"https://news.example.org/{section}/{published:%Y/%m}/{story_id}"
        stories.append(
            {
                "id": story_id,
                "identity": f"guid:{link}",
                "guid": link,
                "link": link,
                "title": title,
                "summary": summary,
                "image_url": (
                    f"https://cdn.example.org/img/{story_id}.jpg" if random_() < 0.7 else None
                ),
                "author": AUTHORS[int(random_() * len(AUTHORS))],
                "categories": "\n".join(rng.sample(title_words, min(2, len(title_words)))),
                "language": (
                    language := languages[bisect_left(language_cum, random_() * language_cum[-1])]
                ),
                "edition": EDITION_OF[language],
                "feed_id": 1 + int(random_() * FEEDS),
                "published_at": published,
                "first_seen_at": seen,
                "updated_at": seen,
                "sort_at": published,
                "push_state": "none",
            }
        )
        if "search_text" in _STORY_COLUMNS and _search_document is not None:
            stories[-1]["search_text"] = _search_text(
                seed, title, summary, title_words + summary_words, check=n % 500 == 0
            )
        placements.extend(
            {"story_id": story_id, "section": s, "sort_at": published} for s in sorted(sections)
        )
    extra = set(stories[0]) - _STORY_COLUMNS if stories else set()
    for row in stories if extra else ():
        for key in extra:
            del row[key]
    return Batch(stories, placements, time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# Query words: chosen by expected document frequency, then counted for real after the fill.


def _expected_doc_share(p: float) -> float:
    return float(1.0 - (1.0 - p) ** AVG_WORDS)


def _norm(word: str) -> str:
    terms = _query_terms(word)
    return terms[0] if terms else word


def _is_prefix_of_other(word: str, sorted_words: Sequence[str]) -> bool:
    """Whether another word starts with ``word`` (a prefix search would match it too)."""
    i = bisect_left(sorted_words, word)
    while i < len(sorted_words) and sorted_words[i] == word:
        i += 1
    return i < len(sorted_words) and sorted_words[i].startswith(word)


def _script(word: str) -> str:
    """ascii, latin (Kurmanji's ê, î, û, ş…) or arabic (Arabic and Sorani)."""
    return "ascii" if word.isascii() else ("latin" if word[0] < "\u0600" else "arabic")


def pick_query_words(vocab: Vocabulary, per_class: int = 5) -> dict[str, list[str]]:
    """Common (in >10% of stories), medium (~0.3-2%) and rare (tail: ~10-60 per million)."""
    head = list(zip(vocab.words[: vocab.head_size], vocab.probabilities, strict=False))
    tail = list(
        zip(vocab.words[vocab.head_size :], vocab.probabilities[vocab.head_size :], strict=False)
    )
    all_words = sorted(_norm(w) for w in vocab.words)

    def fits(word: str) -> bool:
        return len(word) >= 4 and not _is_prefix_of_other(_norm(word), all_words)

    def spread(pool: list[str]) -> list[str]:
        # Every script the outlet writes in first (Latin, Kurmanji, Arabic script), then
        # evenly over the band.
        by_script: dict[str, list[str]] = {}
        for w in pool:
            by_script.setdefault(_script(w), []).append(w)
        chosen = [ws[0] for ws in by_script.values()]
        step = max(1, len(pool) // per_class)
        for w in pool[::step]:
            if len(chosen) >= per_class:
                break
            if w not in chosen:
                chosen.append(w)
        return sorted(chosen[:per_class], key=pool.index)

    real = set(_TOP) | set(_ENGLISH) | set(_KURMANJI) | set(_SORANI) | set(_ARABIC)
    common = spread([w for w, p in head if _expected_doc_share(p) > 0.10 and len(w) >= 4])
    medium = spread(
        [w for w, p in head if 0.003 <= _expected_doc_share(p) <= 0.02 and fits(w) and w in real]
    )
    rare_pool = [w for w, p in tail if 10e-6 <= _expected_doc_share(p) <= 60e-6 and fits(w)]
    step = max(1, len(rare_pool) // per_class)
    rare = rare_pool[::step][:per_class]
    return {"common": common, "medium": medium, "rare": rare}


# ---------------------------------------------------------------------------------------------
# Databases.


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def create_postgres_database(admin_url: str) -> str:
    import asyncpg  # type: ignore[import-untyped]

    name = f"newsbot_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_dsn(admin_url), timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(admin_url: str, url: str) -> None:
    import asyncpg

    name = make_url(url).database
    conn = await asyncpg.connect(_dsn(admin_url), timeout=10)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


async def sqlite_checkpoint(engine: AsyncEngine) -> None:
    """Fold the WAL into the database file.

    Through the driver connection: storage.engine starts every SQLAlchemy transaction with
    BEGIN IMMEDIATE, and a checkpoint cannot run inside a transaction.
    """
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        cursor = await raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        await cursor.close()


async def database_size(engine: AsyncEngine, url: str) -> str:
    """Total size, with the biggest parts."""
    if engine.dialect.name == "sqlite":
        await sqlite_checkpoint(engine)
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            total = (await conn.execute(text("SELECT pg_database_size(current_database())"))).one()
            parts = (
                await conn.execute(
                    text(
                        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i') "
                        "ORDER BY 2 DESC LIMIT 8"
                    )
                )
            ).all()
            detail = ", ".join(f"{name} {_human_bytes(size)}" for name, size in parts)
            return f"{_human_bytes(total[0])} ({detail})"
        path = Path(make_url(url).database or "")
        files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
        total_bytes = sum(p.stat().st_size for p in files)
        try:
            rows: list[Any] = list(
                await conn.exec_driver_sql(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
                )
            )
            detail = " (" + ", ".join(f"{r[0]} {_human_bytes(r[1])}" for r in rows) + ")"
        except Exception:  # dbstat is an optional compile-time feature
            detail = ""
        return f"{_human_bytes(total_bytes)}{detail}"


# ---------------------------------------------------------------------------------------------
# Fill.


@dataclass
class FillResult:
    stories: int
    placements: int
    seconds: float
    generation_seconds: float
    finish_seconds: float  # VACUUM ANALYZE / checkpoint after the inserts


async def _insert_batch(conn: AsyncConnection, batch: Batch) -> None:
    await conn.execute(Story.__table__.insert(), batch.stories)  # type: ignore[attr-defined]
    await conn.execute(StorySection.__table__.insert(), batch.placements)  # type: ignore[attr-defined]


async def fill(
    engine: AsyncEngine, args: argparse.Namespace, pool: ProcessPoolExecutor | None
) -> FillResult:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=365)
    span = (now - timedelta(minutes=5) - start).total_seconds()
    async with engine.begin() as conn:
        await conn.execute(
            Feed.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": i,
                    "url": f"https://news.example.org/feeds/{i}.xml",
                    "section": SECTIONS[(i - 1) % len(SECTIONS)][0],
                    "title": f"Feed {i}",
                    "initialized": True,
                    "consecutive_failures": 0,
                    "created_at": start,
                    "last_success_at": now,
                    "next_poll_at": now,
                }
                for i in range(1, FEEDS + 1)
            ],
        )
        await conn.execute(
            Section.__table__.insert(),  # type: ignore[attr-defined]
            [{"slug": slug, "name": name, "created_at": start} for slug, name, _ in SECTIONS],
        )

    n, size = args.stories, args.batch
    jobs = [
        (args.seed, first, min(size, n - first + 1), start.timestamp() + span * (first - 1) / n,
         span * min(size, n - first + 1) / n)
        for first in range(1, n + 1, size)
    ]  # fmt: skip
    loop = asyncio.get_running_loop()

    def submit(job: tuple[int, int, int, float, float]) -> Awaitable[Batch]:
        if pool is None:
            fut: asyncio.Future[Batch] = loop.create_future()
            fut.set_result(make_batch(*job))
            return fut
        return loop.run_in_executor(pool, make_batch, *job)

    prefetch = 3  # batches generated ahead while the database works
    queue: deque[Awaitable[Batch]] = deque(submit(job) for job in jobs[:prefetch])
    next_job = prefetch
    generation = 0.0
    inserted = placed = done = 0
    started = last_report = time.perf_counter()
    while done < len(jobs):
        async with engine.begin() as conn:  # one transaction per --commit-every stories
            in_transaction = 0
            while done < len(jobs) and in_transaction < args.commit_every:
                batch = await queue.popleft()
                if next_job < len(jobs):
                    queue.append(submit(jobs[next_job]))
                    next_job += 1
                await _insert_batch(conn, batch)
                done += 1
                generation += batch.seconds
                inserted += len(batch.stories)
                placed += len(batch.placements)
                in_transaction += len(batch.stories)
                if args.progress and time.perf_counter() - last_report > 15:
                    last_report = time.perf_counter()
                    rate = inserted / (last_report - started)
                    print(f"  ... {inserted:,} stories, {rate:,.0f}/s", flush=True)
    inserted_seconds = time.perf_counter() - started

    finish_started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn2:
            auto = await conn2.execution_options(isolation_level="AUTOCOMMIT")
            await auto.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('story', 'id'), (SELECT max(id) FROM story))"
            )
            await auto.exec_driver_sql("VACUUM ANALYZE")
    else:
        await sqlite_checkpoint(engine)
    return FillResult(
        stories=inserted,
        placements=placed,
        seconds=inserted_seconds,
        generation_seconds=generation,
        finish_seconds=time.perf_counter() - finish_started,
    )


# ---------------------------------------------------------------------------------------------
# Queries.


@dataclass
class Kind:
    name: str
    goal: str  # "latest" or "search": which target its p95 is held to
    run: Callable[[AsyncSession, int], Awaitable[int]]  # returns the number of stories shown
    words: list[str] = field(default_factory=list)
    matches: list[int] = field(default_factory=list)  # stories matching each word (searches)
    times_ms: list[float] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)


def _search(
    queries: list[str], editions: list[str] | None = None
) -> Callable[[AsyncSession, int], Awaitable[int]]:
    async def run(session: AsyncSession, i: int) -> int:
        query = queries[i % len(queries)]
        return len(await search_stories(session, query, limit=5, editions=editions))

    return run


def build_kinds(words: dict[str, list[str]]) -> list[Kind]:
    sections = [s for s, _, _ in SECTIONS]
    everyday = words["common"] + words["medium"]
    arabic_script = [w for w in everyday if _script(w) == "arabic"]
    kurmanji = [w for w in everyday if _script(w) == "latin"]

    async def latest(session: AsyncSession, i: int) -> int:
        return len(await latest_stories(session, limit=5))

    async def latest_page2(session: AsyncSession, i: int) -> int:
        return len(await latest_stories(session, limit=5, offset=5))

    async def latest_section(session: AsyncSession, i: int) -> int:
        return len(await latest_stories(session, limit=5, section=sections[i % len(sections)]))

    # What readers send: every reader-facing query carries the reader's editions.
    async def latest_edition(session: AsyncSession, i: int) -> int:
        return len(await latest_stories(session, limit=5, editions=["ckb"]))

    async def latest_two_editions(session: AsyncSession, i: int) -> int:
        return len(await latest_stories(session, limit=5, offset=5, editions=["en", "ckb"]))

    async def latest_section_small_edition(session: AsyncSession, i: int) -> int:
        section = sections[i % len(sections)]
        return len(await latest_stories(session, limit=5, section=section, editions=["kmr"]))

    pairs_common = [f"{c} {m}" for c, m in zip(words["common"], words["medium"], strict=False)]
    medium = words["medium"]
    pairs_medium = [f"{medium[i]} {medium[(i + 1) % len(medium)]}" for i in range(len(medium))]
    return [
        Kind("latest", "latest", latest),
        Kind("latest page 2", "latest", latest_page2),
        Kind("latest in section", "latest", latest_section, words=sections),
        Kind("latest, one edition", "latest", latest_edition),
        Kind("latest p2, two editions", "latest", latest_two_editions),
        Kind("latest section, 5% edition", "latest", latest_section_small_edition),
        Kind("search common word", "search", _search(words["common"]), words["common"]),
        Kind("search medium word", "search", _search(words["medium"]), words["medium"]),
        Kind("search rare word", "search", _search(words["rare"]), words["rare"]),
        Kind(
            "search medium, 1 edition",
            "search",
            _search(words["medium"], ["en"]),
            words["medium"],
        ),
        Kind(
            "search common, 5% edition",
            "search",
            _search(words["common"], ["kmr"]),
            words["common"],
        ),
        # A reader of an edition with no stories yet (a feed just added): a common word of
        # the other editions must not cost a scan of all its matches.
        Kind(
            "search common, empty edition",
            "search",
            _search(words["common"], ["tr"]),
            words["common"],
        ),
        Kind("search Arabic script", "search", _search(arabic_script), arabic_script),
        Kind("search Kurmanji", "search", _search(kurmanji), kurmanji),
        Kind("search common+medium", "search", _search(pairs_common), pairs_common),
        Kind("search medium+medium", "search", _search(pairs_medium), pairs_medium),
        # What inline mode sends on a reader's first keystroke.
        Kind("search 1-letter prefix", "search", _search(ONE_LETTER), ONE_LETTER),
    ]


async def count_matches(engine: AsyncEngine, query: str) -> int:
    """How many stories a search matches in all (-1 if unknown).

    Rebuilds the match expression that search_stories uses (every term as a prefix), so it is
    only informative: the timed queries are the real functions.
    """
    terms = _query_terms(query)
    try:
        return await _count_matches(engine, terms)
    except Exception as exc:  # the schema moved under the benchmark: say so, keep timing
        print(f"  (could not count matches for {query!r}: {type(exc).__name__})")
        return -1


async def _count_matches(engine: AsyncEngine, terms: list[str]) -> int:
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            q = " & ".join(f"{t}:*" for t in terms)
            sql = "SELECT count(*) FROM story WHERE search_vector @@ to_tsquery('simple', :q)"
        else:
            q = " ".join('"' + t.replace('"', "") + '"*' for t in terms)
            sql = "SELECT count(*) FROM story_fts WHERE story_fts MATCH :q"
        return int((await conn.execute(text(sql), {"q": q})).scalar_one())


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


async def measure(engine: AsyncEngine, kinds: list[Kind], rounds: int, warmup: int) -> None:
    sessions = create_session_factory(engine)
    perf = time.perf_counter
    for r in range(warmup + rounds):
        for kind in kinds:
            started = perf()
            async with sessions() as session:
                shown = await kind.run(session, r)
            elapsed_ms = (perf() - started) * 1000
            if r >= warmup:
                kind.times_ms.append(elapsed_ms)
                kind.rows.append(shown)


async def explain(engine: AsyncEngine, kinds: list[Kind]) -> None:
    """Print the plan of every SELECT each kind runs (captured from one real run)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sessions = create_session_factory(engine)
    postgres = engine.dialect.name == "postgresql"
    for kind in kinds:
        captured.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            async with sessions() as session:
                await kind.run(session, 0)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        label = f" {kind.words[0]!r}" if kind.words else ""
        print(f"\n--- {kind.name}{label}")
        async with engine.connect() as conn:
            for statement, parameters in list(captured):
                print("SQL:", " ".join(statement.split()), "| params:", parameters)
                prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
                result = await conn.exec_driver_sql(prefix + statement, tuple(parameters or ()))
                for row in result.all():
                    print("   ", row[-1] if not postgres else row[0])


# ---------------------------------------------------------------------------------------------
# Main.


def report(
    engine_label: str, fill_result: FillResult | None, size: str, kinds: list[Kind]
) -> None:
    print(f"\nengine   {engine_label}")
    f = fill_result
    if f is None:
        print("fill     skipped (--no-fill: an existing database)")
    else:
        rate = f.stories / f.seconds if f.seconds else math.inf
        print(
            f"fill     {f.stories:,} stories + {f.placements:,} section rows in {f.seconds:.1f} s"
            f" = {rate:,.0f} stories/s (text generation, in a helper process:"
            f" {f.generation_seconds:.1f} s; then {f.finish_seconds:.1f} s"
            f" {'VACUUM ANALYZE' if 'postgres' in engine_label else 'WAL checkpoint'})"
        )
    print(f"size     {size}")
    print(
        f"\n{'query (fresh session each)':28} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
        f" {'max ms':>8} {'shown':>6} {'matches (per word/pair)'}"
    )
    for kind in kinds:
        values = sorted(kind.times_ms)
        shown = sum(kind.rows) / len(kind.rows) if kind.rows else 0
        matches = ", ".join(f"{m:,}" if m >= 0 else "?" for m in kind.matches)
        print(
            f"{kind.name:28} {len(values):>5} {percentile(values, 0.5):>8.2f}"
            f" {percentile(values, 0.95):>8.2f} {percentile(values, 0.99):>8.2f}"
            f" {(values[-1] if values else math.nan):>8.2f} {shown:>6.1f} {matches}"
        )
    for kind in kinds:
        if kind.words and kind.name.startswith("search"):
            print(f"  {kind.name}: {' | '.join(kind.words)}")

    def worst(goal: str) -> tuple[float, str]:
        return max((percentile(sorted(k.times_ms), 0.95), k.name) for k in kinds if k.goal == goal)

    common = next((k for k in kinds if k.name == "search common word"), None)
    if common and common.rows and not any(common.rows):
        print(
            "\nWARNING  searches for the commonest words found nothing: the full-text index is"
            " not being filled (FTS5 triggers or tsvector column missing?)"
        )

    search_target = SEARCH_TARGET_MS["postgresql" if "postgres" in engine_label else "sqlite"]
    latest_p95, latest_name = worst("latest")
    search_p95, search_name = worst("search")
    latest_ok = latest_p95 < LATEST_TARGET_MS
    search_ok = search_p95 < search_target
    print(
        f"\nverdict  {'MET' if latest_ok and search_ok else 'MISSED'}: latest p95 worst "
        f"{latest_p95:.2f} ms ({latest_name}) vs < {LATEST_TARGET_MS:.0f} ms "
        f"{'ok' if latest_ok else 'MISSED'}; search p95 worst {search_p95:.2f} ms "
        f"({search_name}) vs < {search_target:.0f} ms {'ok' if search_ok else 'MISSED'}"
    )


async def run(args: argparse.Namespace) -> None:
    tmpdir: str | None = None
    created_pg: str | None = None
    admin_url = args.admin_url or os.environ.get("TEST_DATABASE_URL") or DEFAULT_ADMIN_URL
    if args.database_url:
        url = args.database_url
    elif args.database == "postgres":
        url = created_pg = await create_postgres_database(admin_url)
    else:
        tmpdir = tempfile.mkdtemp(prefix="newsbot-bench-")
        url = f"sqlite+aiosqlite:///{Path(tmpdir) / 'newsbot.db'}"

    vocab = build_vocabulary(args.seed)
    words = pick_query_words(vocab)
    kinds = build_kinds(words)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=context) if args.workers else None
    engine = create_engine(url)
    try:
        await upgrade_database(engine)
        async with engine.connect() as conn:
            existing = (await conn.exec_driver_sql("SELECT count(*) FROM story")).scalar_one()
            if engine.dialect.name == "postgresql":
                version = (await conn.exec_driver_sql("SHOW server_version")).scalar_one()
                label = f"postgresql {version} ({make_url(url).database})"
            else:
                version = (await conn.exec_driver_sql("SELECT sqlite_version()")).scalar_one()
                label = f"sqlite {version} ({make_url(url).database})"
        fill_result: FillResult | None = None
        if args.no_fill:
            print(f"measuring the {existing:,} stories already in {label}", flush=True)
        elif existing:
            raise SystemExit(f"{url} already holds {existing} stories: give an empty database")
        else:
            print(f"filling {label} with {args.stories:,} stories ...", flush=True)
            fill_result = await fill(engine, args, pool)
        size = await database_size(engine, url)
        for kind in kinds:
            if kind.name.startswith("search"):
                kind.matches = [await count_matches(engine, w) for w in kind.words]
        print(f"measuring {len(kinds)} query kinds x {args.queries} ...", flush=True)
        await measure(engine, kinds, args.queries, args.warmup)
        report(label, fill_result, size, kinds)
        if args.explain:
            await explain(engine, kinds)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        await engine.dispose()
        if args.keep:
            print(f"\nkept: {url}")
        else:
            if created_pg:
                await drop_postgres_database(admin_url, created_pg)
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=2000, help="stories to insert")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--database-url", help="use this (empty) database instead of a new one")
    parser.add_argument("--admin-url", help="PostgreSQL server to create the database on")
    parser.add_argument("--queries", type=int, default=200, help="timed runs of each query kind")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    parser.add_argument("--batch", type=int, default=10_000, help="rows per executemany")
    parser.add_argument("--commit-every", type=int, default=200_000, help="stories per commit")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, choices=(0, 1), default=1,
                        help="1: generate text in a helper process; 0: inline")  # fmt: skip
    parser.add_argument("--explain", action="store_true", help="print each kind's query plans")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--no-fill",
        action="store_true",
        help="time an existing database (one this script filled and --keep kept, same --seed)",
    )
    parser.add_argument("--progress", action="store_true", help="print the fill rate as it goes")
    args = parser.parse_args(argv)
    if args.stories < 1 or args.queries < 1 or args.batch < 1:
        parser.error("--stories, --queries and --batch must be positive")
    if args.no_fill and not args.database_url:
        parser.error("--no-fill needs --database-url")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
