"""Stories: storing a feed's items exactly once, and reading the latest and matching ones."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from news.search_words import search_document
from news.story_draft import StoryDraft
from storage.dialect import insert_for
from storage.models import Section, SectionEdition, Story, StorySection
from storage.records import IngestOutcome, StoryView
from storage.search import matching_story_ids

MAX_KEY_LENGTH = 2000
_CHUNK = 400  # stays under SQLite's bound-parameter limit with room to spare
# Rows per bulk INSERT … RETURNING statement: about 20 parameters each, far below SQLite's
# limit of 32,766 bound parameters.
_INSERT_ROWS = 500
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """How one batch of a feed's items is recorded."""

    now: datetime
    # Identities of the items that are news if they are new to storage (news.freshness
    # decides); the others are stored as backlog, never pushed.
    news: frozenset[str] = frozenset()
    breaking: frozenset[str] = frozenset()  # identities of items marked as breaking news
    edition: str = "en"  # the feed's edition, which its new stories belong to


def _view(story: Story, sections: Sequence[str] = ()) -> StoryView:
    assert story.id is not None
    return StoryView(
        id=story.id,
        title=story.title,
        link=story.link,
        summary=story.summary,
        image_url=story.image_url,
        author=story.author,
        categories=tuple(c for c in story.categories.split("\n") if c),
        language=story.language,
        published_at=story.published_at,
        first_seen_at=story.first_seen_at,
        sort_at=story.sort_at,
        sections=tuple(sections),
        breaking=story.breaking,
        guid=story.guid,
        edition=story.edition,
        photo_file_id=story.photo_file_id,
        image_failed=story.image_failed,
    )


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _existing(
    session: AsyncSession, drafts: Sequence[StoryDraft]
) -> tuple[dict[str, Story], dict[str, Story]]:
    """Stored stories with the drafts' identities, and with their link keys."""
    identities = sorted({d.identity for d in drafts})
    keys = sorted({d.link for d in drafts if d.link and d.link_is_key})
    by_identity: dict[str, Story] = {}
    by_key: dict[str, Story] = {}
    for chunk in _chunks(identities):
        statement = select(Story).where(col(Story.identity).in_(chunk))
        for story in (await session.exec(statement)).all():
            by_identity[story.identity] = story
    for chunk in _chunks(keys):
        statement = select(Story).where(col(Story.link_key).in_(chunk))
        for story in (await session.exec(statement)).all():
            if story.link_key:
                by_key[story.link_key] = story
    return by_identity, by_key


def _fit_identity(identity: str) -> str:
    """An identity short enough for a btree index (PostgreSQL refuses ~2.7 kB)."""
    if len(identity) > MAX_KEY_LENGTH:
        return f"hash:{hashlib.sha1(identity.encode()).hexdigest()}"
    return identity


def _fit_for_index(draft: StoryDraft) -> StoryDraft:
    """Keep unique keys within what a btree index takes."""
    if len(draft.identity) > MAX_KEY_LENGTH:
        draft = replace(draft, identity=_fit_identity(draft.identity))
    if draft.link and len(draft.link) > MAX_KEY_LENGTH:
        draft = replace(draft, link=None)  # no reader's client would open it anyway
    return draft


def _sort_key(draft: StoryDraft) -> tuple[int, float]:
    # Oldest first, so that ids grow with time and "ORDER BY id DESC" reads newest first.
    return (0, draft.published_at.timestamp()) if draft.published_at else (1, 0.0)


def oldest_first(items: Sequence[tuple[StoryDraft, S]]) -> list[tuple[StoryDraft, S]]:
    """Items in the order they are stored: by publication time, undated ones last."""
    return sorted(items, key=lambda pair: _sort_key(pair[0]))


async def store_feed_items(
    session: AsyncSession,
    feed_id: int | None,
    items: Sequence[tuple[StoryDraft, Sequence[str]]],
    policy: IngestPolicy,
    *,
    claimed: set[int] | None = None,
) -> IngestOutcome:
    """Insert unseen items, update edited ones, list each under its sections.

    An item is the stored story with its identity, else the one with its link key
    (``news.story_identity``): an article in several feeds, or under a guid the outlet
    renumbered, is never stored twice. Unseen items are inserted in bulk; those whose
    identity ``policy.news`` names wait for fan-out, the others are backlog. A document
    stored in several calls (batches) passes the same ``claimed`` set to each, so that no
    two of its items become one story. ``feed_id`` None stores the outlet's own word (its
    ``story.published`` event): it edits the story whichever feed it came from, and a story
    it creates belongs to no feed until the first feed carrying it adopts it (and from then
    on edits it, like any correction). Does not commit.
    """
    items = oldest_first([(_fit_for_index(d), sections) for d, sections in items])
    if any(len(i) > MAX_KEY_LENGTH for i in (*policy.news, *policy.breaking)):
        policy = replace(
            policy,
            news=frozenset(map(_fit_identity, policy.news)),
            breaking=frozenset(map(_fit_identity, policy.breaking)),
        )
    by_identity, by_key = await _existing(session, [d for d, _ in items])
    claimed = set() if claimed is None else claimed

    updated: list[Story] = []
    unchanged = 0
    unseen: list[tuple[StoryDraft, Sequence[str]]] = []
    placements: dict[int, tuple[datetime, set[str]]] = {}
    for draft, sections in items:
        story = by_identity.get(draft.identity)
        if story is None and draft.link and draft.link_is_key:
            story = by_key.get(draft.link)
            if story is not None and story.id in claimed:
                # Its link names a story another item of this document already is (that
                # item kept the identity, this one the link): a story of its own, unkeyed.
                story, draft = None, replace(draft, link_is_key=False)
        if story is None:
            unseen.append((draft, sections))
            continue
        assert story.id is not None
        if story.feed_id is None and feed_id is not None:
            story.feed_id = feed_id  # the outlet announced it; its feed now carries it
        if story.id in claimed or (feed_id is not None and story.feed_id != feed_id):
            # Another feed carrying the same article with its own wording: only the story's
            # own feed edits it, or the text would flip-flop (and count as an edit) on every
            # poll.
            pass
        elif _apply_edit(story, draft, policy.now):
            updated.append(story)
        else:
            unchanged += 1
        claimed.add(story.id)
        placements.setdefault(story.id, (story.sort_at, set()))[1].update(sections)

    new, backlog = await _insert_unseen(session, feed_id, unseen, policy, claimed, placements)
    await _list_under_sections(session, placements)
    await session.flush()
    edited = await sections_for(session, [s.id for s in updated if s.id])
    return IngestOutcome(
        new=tuple(new),
        updated=tuple(_view(s, edited.get(s.id or 0, ())) for s in updated),
        backlog=tuple(backlog),
        unchanged=unchanged,
    )


async def _insert_unseen(
    session: AsyncSession,
    feed_id: int | None,
    unseen: Sequence[tuple[StoryDraft, Sequence[str]]],
    policy: IngestPolicy,
    claimed: set[int],
    placements: dict[int, tuple[datetime, set[str]]],
) -> tuple[list[StoryView], list[StoryView]]:
    """Insert the unseen items in bulk; return the new stories and the backlog ones.

    A row that meets a unique key on insert was stored meanwhile by a concurrent poll of
    another feed (PostgreSQL): that story is listed here too, but it is not new here.
    """
    if not unseen:
        return [], []
    rows = [_row(feed_id, draft, policy) for draft, _ in unseen]
    # The table, not the model: an ORM bulk insert spends more time on bookkeeping than
    # SQLite does on the rows.
    table = Story.__table__  # type: ignore[attr-defined]
    statement = (
        insert_for(session)(table).on_conflict_do_nothing().returning(table.c.id, table.c.identity)
    )
    inserted: dict[str, int] = {}
    for start in range(0, len(rows), _INSERT_ROWS):
        result = await session.exec(statement, params=rows[start : start + _INSERT_ROWS])
        inserted.update((identity, story_id) for story_id, identity in result.all())
    new: list[StoryView] = []
    backlog: list[StoryView] = []
    raced: list[tuple[StoryDraft, Sequence[str]]] = []
    for (draft, sections), row in zip(unseen, rows, strict=True):
        story_id = inserted.pop(draft.identity, None)
        if story_id is None:
            raced.append((draft, sections))
            continue
        claimed.add(story_id)
        placements[story_id] = (row["sort_at"], set(sections))
        view = _row_view(story_id, row, tuple(sorted(set(sections))))
        (new if row["push_state"] == "pending" else backlog).append(view)
    for draft, sections in raced:
        clause = col(Story.identity) == draft.identity
        if draft.link and draft.link_is_key:
            clause = or_(clause, col(Story.link_key) == draft.link)
        existing = (await session.exec(select(Story).where(clause))).first()
        assert existing is not None and existing.id is not None
        claimed.add(existing.id)
        placements.setdefault(existing.id, (existing.sort_at, set()))[1].update(sections)
    return new, backlog


def _row(feed_id: int | None, draft: StoryDraft, policy: IngestPolicy) -> dict[str, Any]:
    """The story row an unseen item becomes."""
    published = draft.published_at
    return {
        "identity": draft.identity,
        "guid": draft.guid,
        "link": draft.link,
        "link_key": draft.link if draft.link_is_key else None,
        "title": draft.title,
        "summary": draft.summary,
        "search_text": search_document(draft.title, draft.summary, *draft.categories),
        "image_url": draft.image_url,
        "author": draft.author,
        "categories": "\n".join(draft.categories),
        "language": draft.language,
        "feed_id": feed_id,
        "published_at": published,
        "first_seen_at": policy.now,
        "updated_at": policy.now,
        "sort_at": published or policy.now,
        "push_state": "pending" if draft.identity in policy.news else "none",
        "breaking": draft.identity in policy.breaking,
        "edition": policy.edition,
    }


def _row_view(story_id: int, row: dict[str, Any], sections: tuple[str, ...]) -> StoryView:
    """The view of a story just inserted, from its row (no read back)."""
    return StoryView(
        id=story_id,
        title=row["title"],
        link=row["link"],
        summary=row["summary"],
        image_url=row["image_url"],
        author=row["author"],
        categories=tuple(c for c in row["categories"].split("\n") if c),
        language=row["language"],
        published_at=row["published_at"],
        first_seen_at=row["first_seen_at"],
        sort_at=row["sort_at"],
        sections=sections,
        breaking=row["breaking"],
        guid=row["guid"],
        edition=row["edition"],
    )


def _apply_edit(story: Story, draft: StoryDraft, now: datetime) -> bool:
    """Copy a changed title, summary or image onto the stored story; True if it changed."""
    changed = False
    if draft.title and draft.title != story.title:
        story.title = draft.title
        changed = True
    if draft.summary != story.summary and draft.summary:
        story.summary = draft.summary
        changed = True
    if draft.image_url and draft.image_url != story.image_url:
        story.image_url = draft.image_url
        # A new picture: Telegram has neither fetched nor refused it yet.
        story.photo_file_id = None
        story.image_failed = False
        changed = True
    if changed:
        story.search_text = search_document(story.title, story.summary, story.categories)
        story.updated_at = now
    return changed


async def _list_under_sections(
    session: AsyncSession, placements: dict[int, tuple[datetime, set[str]]]
) -> None:
    rows = [
        {"story_id": story_id, "section": section, "sort_at": sort_at}
        for story_id, (sort_at, sections) in placements.items()
        for section in sections
    ]
    if rows:
        table = StorySection.__table__  # type: ignore[attr-defined]
        await session.exec(insert_for(session)(table).on_conflict_do_nothing(), params=rows)


async def remember_sections(
    session: AsyncSession, names: dict[str, str], now: datetime, edition: str | None = None
) -> None:
    """Record section slugs with their display names (first name seen wins), and that they
    appear in ``edition``."""
    if not names:
        return
    rows = [{"slug": slug, "name": name, "created_at": now} for slug, name in names.items()]
    insert = insert_for(session)
    await session.exec(insert(Section).values(rows).on_conflict_do_nothing())
    if edition:
        pairs = [{"slug": slug, "edition": edition} for slug in names]
        await session.exec(insert(SectionEdition).values(pairs).on_conflict_do_nothing())


async def sections_for(
    session: AsyncSession, story_ids: Sequence[int]
) -> dict[int, tuple[str, ...]]:
    """Each story's sections, sorted."""
    found: dict[int, list[str]] = {}
    for start in range(0, len(story_ids), _CHUNK):
        chunk = story_ids[start : start + _CHUNK]
        statement = select(StorySection.story_id, StorySection.section).where(
            col(StorySection.story_id).in_(chunk)
        )
        for story_id, section in (await session.exec(statement)).all():
            found.setdefault(story_id, []).append(section)
    return {k: tuple(sorted(v)) for k, v in found.items()}


async def _views(session: AsyncSession, stories: Sequence[Story]) -> list[StoryView]:
    sections = await sections_for(session, [s.id for s in stories if s.id is not None])
    return [_view(s, sections.get(s.id or 0, ())) for s in stories]


async def get_story(session: AsyncSession, story_id: int) -> StoryView | None:
    """One story by id."""
    story = await session.get(Story, story_id)
    return (await _views(session, [story]))[0] if story else None


async def get_stories(session: AsyncSession, story_ids: Sequence[int]) -> dict[int, StoryView]:
    """Stories by id (missing ids are left out)."""
    found: list[Story] = []
    for start in range(0, len(story_ids), _CHUNK):
        chunk = list(story_ids[start : start + _CHUNK])
        found += (await session.exec(select(Story).where(col(Story.id).in_(chunk)))).all()
    return {view.id: view for view in await _views(session, found)}


async def remember_photo(
    session: AsyncSession, story_id: int, image_url: str, file_id: str
) -> bool:
    """Keep the file id Telegram gave the story's picture (the first one wins: every other
    reader is then sent it); False when the story has another picture by now, or an id."""
    result = await session.exec(
        update(Story)
        .where(
            col(Story.id) == story_id,
            col(Story.image_url) == image_url,
            col(Story.photo_file_id).is_(None),
        )
        .values(photo_file_id=file_id)
    )
    return bool(result.rowcount)


async def mark_image_failed(session: AsyncSession, story_id: int, image_url: str) -> bool:
    """Telegram refused the story's picture: later readers get text at once (until the story
    has another picture). False when its picture has changed meanwhile."""
    result = await session.exec(
        update(Story)
        .where(col(Story.id) == story_id, col(Story.image_url) == image_url)
        .values(image_failed=True, photo_file_id=None)
    )
    return bool(result.rowcount)


async def find_story(session: AsyncSession, reference: str) -> StoryView | None:
    """A story named by an admin: its id, or its link."""
    reference = reference.strip()
    if reference.isascii() and reference.isdigit() and len(reference) < 12:
        return await get_story(session, int(reference))
    story = (await session.exec(select(Story).where(col(Story.link_key) == reference))).first()
    if story is None:
        # A link that several stories share is no key: look for the first one showing it
        # (no index; an admin's command, and a rare case).
        statement = select(Story).where(col(Story.link) == reference).order_by(col(Story.id))
        story = (await session.exec(statement)).first()
    return (await _views(session, [story]))[0] if story else None


async def story_ids_for_links(session: AsyncSession, links: Sequence[str]) -> list[int]:
    """The stories at these links, in the links' order (unknown links left out)."""
    wanted = list(dict.fromkeys(links))[:50]
    if not wanted:
        return []
    rows = (
        await session.exec(select(Story.id, Story.link).where(col(Story.link).in_(wanted)))
    ).all()
    by_link = {link: story_id for story_id, link in rows if story_id is not None}
    return [by_link[link] for link in wanted if link in by_link]


async def mark_breaking(session: AsyncSession, story_id: int) -> None:
    """Flag a story as breaking news (an admin's /breaking)."""
    story = await session.get(Story, story_id)
    if story is not None:
        story.breaking = True


async def latest_stories(
    session: AsyncSession,
    *,
    limit: int = 5,
    offset: int = 0,
    section: str | None = None,
    editions: Sequence[str] | None = None,
) -> list[StoryView]:
    """Newest first by publication (else first-seen) time, optionally within one section
    and within some editions (None: every edition)."""
    statement: Select[tuple[Story]]
    if section is not None:
        ids = (
            select(StorySection.story_id)
            .where(StorySection.section == section)
            .order_by(col(StorySection.sort_at).desc(), col(StorySection.story_id).desc())
            .limit(limit)
            .offset(offset)
        )
        if editions is not None:
            ids = ids.join(Story, col(Story.id) == col(StorySection.story_id)).where(
                col(Story.edition).in_(list(editions))
            )
        statement = (
            select(Story)  # type: ignore[assignment]
            .where(col(Story.id).in_(ids.scalar_subquery()))
            .order_by(col(Story.sort_at).desc(), col(Story.id).desc())
        )
        stories = (await session.exec(statement)).all()  # type: ignore[call-overload]
        return await _views(session, stories)
    newest = select(Story).order_by(col(Story.sort_at).desc(), col(Story.id).desc())
    if editions is None:
        found = (await session.exec(newest.limit(limit).offset(offset))).all()
        return await _views(session, found)
    # One index walk per edition (ix_story_edition_sort), merged here: an IN over two
    # editions would make SQLite sort every story of both.
    merged: list[Story] = []
    for edition in dict.fromkeys(editions):
        page = newest.where(col(Story.edition) == edition).limit(offset + limit)
        merged += (await session.exec(page)).all()
    merged.sort(key=lambda s: (s.sort_at, s.id or 0), reverse=True)
    return await _views(session, merged[offset : offset + limit])


async def search_stories(
    session: AsyncSession,
    query: str,
    *,
    limit: int = 5,
    offset: int = 0,
    editions: Sequence[str] | None = None,
) -> list[StoryView]:
    """Stories whose title, summary or categories hold every word of ``query`` (as a prefix),
    newest first, within some editions (None: every edition).

    Words are matched through the full-text index (``storage.search``: FTS5 on SQLite,
    tsvector on PostgreSQL); a reader's text never becomes query syntax, so quotes or
    operators in it are harmless.
    """
    ids = await matching_story_ids(session, query, limit=limit, offset=offset, editions=editions)
    if not ids:
        return []
    stories = {
        s.id: s for s in (await session.exec(select(Story).where(col(Story.id).in_(ids)))).all()
    }
    return await _views(session, [stories[i] for i in ids if i in stories])


async def list_sections(
    session: AsyncSession,
    editions: Sequence[str] | None = None,
    offered: Sequence[str] | None = None,
) -> list[tuple[str, str]]:
    """Known sections as ``(slug, stored name)``, by name: all of them, or those seen in
    ``editions`` (and those stored before editions existed, which belong to no edition);
    only those among ``offered`` when it is given (the sections the operator configured:
    an older version stored every category as a section)."""
    statement = select(Section.slug, Section.name).order_by(func.lower(Section.name))
    if offered is not None:
        statement = statement.where(col(Section.slug).in_(list(offered)))
    if editions is not None:
        seen_in = col(SectionEdition.slug) == col(Section.slug)
        statement = statement.where(
            or_(
                exists().where(seen_in, col(SectionEdition.edition).in_(list(editions))),
                ~exists().where(seen_in),
            )
        )
    return [(slug, name) for slug, name in (await session.exec(statement)).all()]


async def pending_stories(
    session: AsyncSession, *, since: datetime, limit: int = 1000
) -> list[StoryView]:
    """New stories first seen since ``since`` and not queued for fan-out yet, oldest first."""
    statement = (
        select(Story)
        .where(col(Story.push_state) == "pending", col(Story.first_seen_at) >= since)
        .order_by(col(Story.id))
        .limit(limit)
    )
    return await _views(session, (await session.exec(statement)).all())
