"""Full-text search: which stories hold every word of a reader's query, as one page of ids,
newest first (publication time, then id: the order of /latest), exactly.

At a million stories two things cost, and each has its remedy here:

- Prefixes. Every query word matches as a prefix, and a prefix query gathers all the matches
  of all the words with that prefix before it returns a row (FTS5 and GIN alike): ~16 ms
  for a word in half the stories, whatever the LIMIT. A prefix of four letters or more is
  therefore spelled out as the indexed words that start with it (``story_term``, kept by
  the database itself: migration 0014), which both engines read lazily; FTS5 reads a two-
  or three-letter prefix lazily from its prefix indexes; a one-letter term is a whole word.
- Order. The full-text index yields ids; readers want publication time. SQLite reads the
  matches newest id first in growing chunks and stops once no story it has not read could
  be newer than the page it holds. That is almost at once, since ids grow with first-seen
  time and a feed's dates are never in the future (``news.feed_parsing``); other data only
  makes it read further, never answer differently. PostgreSQL filters the newest stories
  first and asks the GIN index only when they hold too few matches.

Each step is one statement (spelling the words out included): on a busy 2-core machine a
round trip costs more than most searches. A reader's words never become query syntax: they
are ``\\w+`` runs, quoted for FTS5.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from news.search_words import query_terms

# A one-letter prefix matches most stories: FTS5 then merges every matching doclist
# (~90 ms at 1M stories). Such a term matches as a whole word instead.
_MIN_PREFIX = 2
# FTS5 keeps indexes of every word's first 2 and first 3 characters (migration 0001): a
# prefix that short is one doclist, read lazily like a word.
_FTS5_PREFIX_INDEXES = (2, 3)
# A prefix that starts more indexed words than this stays a prefix query: merging that
# many doclists lazily would cost more than gathering them.
_MAX_WORDS_PER_PREFIX = 64
# Greater than any character a word holds: [prefix, prefix + this) is every word with it.
_PAST_EVERY_WORD = "\U0010ffff"
# SQLite: matches read in the first chunk (twice that within some editions, as other
# editions' matches take part of it). A word rarer than that is read in full; a commoner
# one then needs a look at the stories newer than the page, about need / (its share of
# stories) of them: 64 balances the two. Each further chunk (a page still short, or
# stories with higher ids but older dates: a new feed's backlog) is _GROWTH times bigger.
_FIRST_CHUNK = 64
_GROWTH = 2
_MAX_CHUNK = 8192
_NO_CEILING = 2**63 - 1  # SQLite's largest rowid
# PostgreSQL: the newest stories filtered before the GIN index is asked: a first look, and
# a further one when the first found some matches but not a page (a word in ~0.1% of
# stories or more). Each costs ~1.2 µs a story; GIN ~2.5 µs a match (at 1M stories).
_FIRST_LOOK = 1_000
_FURTHER_LOOK = 4_000


async def matching_story_ids(
    session: AsyncSession,
    query: str,
    *,
    limit: int,
    offset: int = 0,
    editions: Sequence[str] | None = None,
) -> list[int]:
    """Ids of one page of the stories holding every word of ``query`` (each as a prefix),
    newest first, within ``editions`` (None: every edition)."""
    terms = query_terms(query)
    wanted = sorted(set(editions)) if editions is not None else None
    if not terms or limit <= 0 or wanted == []:
        return []
    need = int(offset) + int(limit)  # written into PostgreSQL's statement: a number, surely
    if session.get_bind().dialect.name == "postgresql":
        ids = await _postgres_page(session, terms, need, wanted)
    else:
        ids = await _sqlite_page(session, terms, need, wanted)
    return ids[offset:need]


# The query string is built by SQL, inside the statement that runs it (a lookup first would
# cost a round trip). Spelling a prefix out changes no result: story_term holds the
# index's own words, so when it names any word that starts with the term, the term is the
# beginning of a single indexed word (a term the engine would split, or fold, begins none),
# and the words named are every word the index holds with that beginning. When it names
# none, or too many, the term stays a prefix.


def _spelled_out(n: int, term: str, params: dict[str, Any], *, postgres: bool) -> str:
    """SQL for the n-th term as the indexed words starting with it, ORed; else the prefix
    query given as parameter ``t{n}``."""
    params[f"low{n}"], params[f"high{n}"] = term, term + _PAST_EVERY_WORD
    if postgres:
        words = "string_agg('''' || replace(term, '''', '''''') || '''', ' | ')"
    else:
        words = """group_concat('"' || replace(term, '"', '""') || '"', ' OR ')"""
    # DISTINCT: PostgreSQL's list may hold a word twice (migration 0014).
    return (
        f"(SELECT CASE WHEN count(*) BETWEEN 1 AND {_MAX_WORDS_PER_PREFIX} "
        f"THEN '(' || {words} || ')' ELSE :t{n} END "
        f"FROM (SELECT DISTINCT term FROM story_term WHERE term >= :low{n} "
        f"AND term < :high{n} ORDER BY term LIMIT {_MAX_WORDS_PER_PREFIX + 1}) AS w{n})"
    )


def _fts5_query(terms: list[str]) -> tuple[str, dict[str, Any]]:
    """SQL for the FTS5 query string that matches every term, and its parameters."""
    operands: list[str] = []
    params: dict[str, Any] = {}
    for n, term in enumerate(terms):
        quoted = '"' + term.replace('"', '""') + '"'
        params[f"t{n}"] = quoted if len(term) < _MIN_PREFIX else quoted + "*"
        if len(term) > max(_FTS5_PREFIX_INDEXES):
            operands.append(_spelled_out(n, term, params, postgres=False))
        else:
            operands.append(f":t{n}")
    return " || ' AND ' || ".join(operands), params


def _tsquery(terms: list[str]) -> tuple[str, dict[str, Any]]:
    """SQL for the to_tsquery('simple', …) text that matches every term, and its parameters."""
    operands: list[str] = []
    params: dict[str, Any] = {}
    for n, term in enumerate(terms):
        if len(term) < _MIN_PREFIX:
            params[f"t{n}"] = term
            operands.append(f":t{n}")
        else:
            params[f"t{n}"] = f"{term}:*"
            operands.append(_spelled_out(n, term, params, postgres=True))
    return " || ' & ' || ".join(operands), params


def _sqlite_chunk(match: str, editions: list[str] | None) -> str:
    """One step of the SQLite search, as one statement.

    ``chunk``: the next :chunk matches, newest id first, up to the ceiling (within some
    editions, the ceiling first drops to their newest story, skipping other editions' newer
    stories). ``page``: the newest :need of them by publication time. ``newer``: whether a
    story not read yet is newer than the page's last (asked only when the chunk was full
    and the page is whole): if not, no match below could belong on the page. Rows come
    back tagged: match (the query string, spelled out), read (count, lowest id), page
    (id, sort_at) and newer (0 or 1).
    """
    ceiling = ":ceiling"
    in_editions = and_editions = ""
    if editions is not None:
        # One indexed max() per edition: over an IN list SQLite would scan.
        newest = " UNION ALL ".join(
            f"SELECT (SELECT max(id) FROM story INDEXED BY ix_story_edition_id "
            f"WHERE edition = :e{n} AND id <= :ceiling) AS m"
            for n in range(len(editions))
        )
        # No story in those editions: 0, not NULL, which FTS5 would take as no bound.
        ceiling = f"coalesce((SELECT max(m) FROM ({newest})), 0)"
        listed = ", ".join(f":e{n}" for n in range(len(editions)))
        in_editions = f"AND s.edition IN ({listed})"
        and_editions = f"edition IN ({listed}) AND"
    sort_index = "ix_story_sort" if editions is None else "ix_story_edition_sort"
    return f"""
        WITH q AS MATERIALIZED (SELECT {match} AS match),
        chunk AS MATERIALIZED (
            SELECT rowid AS id FROM story_fts
            WHERE story_fts MATCH (SELECT match FROM q) AND rowid <= {ceiling}
            ORDER BY rowid DESC LIMIT :chunk),
        page AS MATERIALIZED (
            SELECT s.id, s.sort_at FROM chunk CROSS JOIN story AS s
            WHERE s.id = chunk.id {in_editions}
            ORDER BY s.sort_at DESC, s.id DESC LIMIT :need),
        last AS (SELECT id, sort_at, (SELECT min(id) FROM chunk) AS unread_below FROM page
            ORDER BY sort_at DESC, id DESC LIMIT 1 OFFSET :need - 1)
        SELECT 'match', NULL, (SELECT match FROM q)
        UNION ALL SELECT 'read', count(*), min(id) FROM chunk
        UNION ALL SELECT 'page', id, sort_at FROM page
        UNION ALL SELECT 'newer', EXISTS (
            SELECT 1 FROM story INDEXED BY {sort_index}
            WHERE {and_editions} sort_at >= last.sort_at AND id < last.unread_below
            AND (sort_at > last.sort_at OR id > last.id)
        ), NULL FROM last WHERE (SELECT count(*) FROM chunk) = :chunk
    """


async def _sqlite_page(
    session: AsyncSession, terms: list[str], need: int, editions: list[str] | None
) -> list[int]:
    """The ``need`` newest matches, read newest id first, chunk by chunk."""
    match, params = _fts5_query(terms)
    fixed = {"need": need} | {f"e{n}": e for n, e in enumerate(editions or ())}
    found: list[tuple[str, int]] = []  # (sort_at as stored, id), newest first
    ceiling = _NO_CEILING
    chunk = max(_FIRST_CHUNK * (1 if editions is None else 2), 2 * need)
    while True:
        statement = text(_sqlite_chunk(match, editions)).bindparams(
            **params, **fixed, ceiling=ceiling, chunk=chunk
        )
        read, lowest, newer, spelled = 0, None, None, ""
        for kind, number, value in (await session.exec(statement)).all():  # type: ignore[call-overload]
            if kind == "page":
                found.append((value, number))
            elif kind == "read":
                read, lowest = number, value
            elif kind == "newer":
                newer = bool(number)
            else:
                spelled = value
        found = sorted(found, reverse=True)[:need]
        # A chunk whose own page is not whole says nothing of what is newer: read on.
        if read < chunk or newer is False or lowest is None:
            return [story_id for _, story_id in found]
        match, params = ":match", {"match": spelled}
        ceiling, chunk = lowest - 1, min(_GROWTH * chunk, _MAX_CHUNK)


async def _postgres_page(
    session: AsyncSession, terms: list[str], need: int, editions: list[str] | None
) -> list[int]:
    """The ``need`` newest matches, in bounded work, in one statement.

    One ``ORDER BY … LIMIT`` query is fast only when the planner guesses right: walking an
    index backwards and filtering is instant for a common word and reads the whole table for
    a rare one, and the GIN statistics give every word outside the ~1000 commonest the same
    small estimate. So ``first`` filters the _FIRST_LOOK newest stories; if they hold some
    matches but not a page, ``further`` filters the _FURTHER_LOOK stories after them
    (``edge`` is where the first look ended); only if that is not enough either, ``every``
    sorts all the matches from the GIN index (MATERIALIZED keeps it a bitmap scan, whose
    cost is the number of matches: small for a query that rare, since words named one by
    one cost GIN no more than their own matches). Each step after the first is gated by a
    condition PostgreSQL checks once, so a step not needed costs nothing.
    """
    tsquery, params = _tsquery(terms)
    # Numbers are written into the statement: with only the words as parameters, PostgreSQL
    # plans it once per connection instead of at every search (a plan cost more than
    # running it for a common word).
    first_look = _newest_stories(editions, "id, sort_at, search_vector", _FIRST_LOOK)
    further_look = _newest_stories(
        editions, "id, sort_at, search_vector", _FURTHER_LOOK, after="edge"
    )
    edge_look = _newest_stories(editions, "id, sort_at", _FIRST_LOOK)
    and_editions = "" if editions is None else "AND edition = ANY(:editions)"
    statement = text(f"""
        WITH q AS MATERIALIZED (SELECT to_tsquery('simple', {tsquery}) AS q),
        first AS MATERIALIZED (
            SELECT id, sort_at FROM ({first_look}) AS r WHERE search_vector @@ (SELECT q FROM q)
            ORDER BY sort_at DESC, id DESC LIMIT {need}),
        edge AS MATERIALIZED (
            SELECT id, sort_at FROM ({edge_look}) AS r WHERE (SELECT count(*) FROM first) < {need}
            ORDER BY sort_at DESC, id DESC OFFSET {_FIRST_LOOK - 1} LIMIT 1),
        further AS MATERIALIZED (
            SELECT id, sort_at FROM ({further_look}) AS r
            WHERE (SELECT count(*) FROM first) > 0 AND search_vector @@ (SELECT q FROM q)
            ORDER BY sort_at DESC, id DESC LIMIT {need}),
        every AS MATERIALIZED (
            SELECT id, sort_at FROM story
            WHERE (SELECT count(*) FROM first) + (SELECT count(*) FROM further) < {need}
            AND EXISTS (SELECT FROM edge) AND search_vector @@ (SELECT q FROM q) {and_editions})
        SELECT id, sort_at FROM first
        UNION ALL SELECT id, sort_at FROM further
        UNION ALL (SELECT id, sort_at FROM every ORDER BY sort_at DESC, id DESC LIMIT {need})
    """).bindparams(**params)
    if editions is not None:
        statement = statement.bindparams(
            editions=editions, **{f"e{n}": e for n, e in enumerate(editions)}
        )
    rows = (await session.exec(statement)).all()  # type: ignore[call-overload]
    # ``every``, when it ran, repeats what the looks found.
    newest = sorted({(sort_at, story_id) for story_id, sort_at in rows}, reverse=True)
    return [story_id for _, story_id in newest[:need]]


def _newest_stories(
    editions: list[str] | None, columns: str, look: int, *, after: str | None = None
) -> str:
    """SQL for the ``look`` newest stories (in editions :e0…; older than the story in the
    one-row CTE ``after``), newest first, with ``columns``: one index walk per edition,
    merged as they go (with ``edition = ANY(…)`` PostgreSQL walks every edition's stories
    and filters)."""
    older = f"(sort_at, id) < (SELECT sort_at, id FROM {after})" if after else ""

    def walk(edition: str) -> str:
        where = " AND ".join(c for c in (edition, older) if c)
        return (
            f"SELECT {columns} FROM story {'WHERE ' + where if where else ''} "
            f"ORDER BY sort_at DESC, id DESC LIMIT {look}"
        )

    if editions is None:
        return walk("")
    if len(editions) == 1:
        return walk("edition = :e0")
    walks = " UNION ALL ".join(f"({walk(f'edition = :e{n}')})" for n in range(len(editions)))
    return f"SELECT * FROM ({walks}) AS w ORDER BY sort_at DESC, id DESC LIMIT {look}"
