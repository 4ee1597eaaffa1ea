"""The outlet says "published": ``story.published`` events, ingested at once.

An event with a title is the story itself: read by the feed parser's own rules (the event
becomes a one-item JSON Feed, ``news.outlet_events.story_document``), stored by the same
identity rules as a feed's items (``storage.stories.store_feed_items``, as the outlet's
word: ``feed_id`` None) with its broadcast in the same transaction, and the fan-out woken
after commit. The next poll of the feed finds the story stored: no second story, no second
push, and a changed title or summary there edits it like any correction.

An event with only a link makes the bot poll the feeds of its edition at once, asking
caches on the way (a CDN) to revalidate; until the link is among the stored stories the
event is tried again every few seconds for a few minutes, after which polling carries on
as usual.

Any instance may process an event (the inbox is claimed row by row): the broadcast row is
durable, and the leader's fan-out, when it was not woken here, finds it within a second
(its enumerator looks for open broadcasts every second when idle).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from jobs.ingestion import FeedPoller
from jobs.outlet_inbox import EventCheck, EventHandler, EventPreparation, Handled, Retry
from news.breaking import is_breaking
from news.feed_parsing import NotAFeedError, normalise_link, parse_feed
from news.freshness import Baseline, is_news
from news.outlet_events import STORY_PUBLISHED, MalformedEvent, StoryPublished, story_document
from news.sections import section_slug, sections_for_item
from storage import deliveries as delivery_store
from storage import stories as story_store
from storage.deliveries import PUSH
from storage.feeds import FeedView

log = logging.getLogger(__name__)

# A link-only event whose story the feeds do not show yet (a CDN still serving the old
# document) is looked for again after 2 s, doubling to 15 s, for three minutes.
ANNOUNCED_RETRY = Retry(first=2.0, cap=15.0, give_up_after=timedelta(minutes=3))


@dataclass(frozen=True, slots=True)
class PublishedSettings:
    """What reading a story.published needs from the settings."""

    default_edition: str
    push_max_age: float
    breaking_markers: tuple[str, ...] = ()
    # SECTIONS as news.sections.category_sections gives it: folded category → slugs.
    category_sections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # The sections offered (slugs): an event's section that is one of them files the story
    # there, as a section feed would.
    offered: frozenset[str] = frozenset()


class PublishedStories:
    """``story.published``'s check, preparation and handler, for the outlet's inbox."""

    def __init__(
        self,
        poller: FeedPoller,
        feeds: Sequence[FeedView],
        settings: PublishedSettings,
        *,
        wake_fanout: Callable[[], None] | None = None,
    ) -> None:
        self._poller = poller
        self._feeds = tuple(feeds)
        self._settings = settings
        self._wake_fanout = wake_fanout
        self._editions = frozenset(f.edition for f in feeds) | {settings.default_edition}

    def handlers(self) -> dict[str, EventHandler]:
        """The inbox's handler for story.published."""
        return {STORY_PUBLISHED: self.handle}

    def preparations(self) -> dict[str, EventPreparation]:
        """What runs before the handler's transaction (the poll of a link-only event)."""
        return {STORY_PUBLISHED: self.prepare}

    def checks(self) -> dict[str, EventCheck]:
        """What the listener refuses with 400 although well formed."""
        return {STORY_PUBLISHED: self.check}

    def edition_of(self, event: StoryPublished) -> str:
        """The event's edition, the default one when it names none."""
        return event.edition or self._settings.default_edition

    def check(self, event: StoryPublished) -> None:
        """An edition the bot does not serve is refused (the outlet's mistake, not a retry)."""
        edition = self.edition_of(event)
        if edition not in self._editions:
            served = ", ".join(sorted(self._editions))
            raise MalformedEvent(f"'data.edition' {edition!r} is not served here ({served})")

    async def prepare(self, event: StoryPublished) -> None:
        """A link-only event: poll the edition's feeds now, past any cache."""
        if not event.announced_only:
            return
        edition = self.edition_of(event)
        feeds = [f for f in self._feeds if f.edition == edition]
        reports = await asyncio.gather(
            *(self._poller.poll(f.id, fresh=True) for f in feeds), return_exceptions=True
        )
        for feed, report in zip(feeds, reports, strict=True):
            if isinstance(report, BaseException):
                log.warning("feed=%s poll for an announced story failed: %r", feed.url, report)

    async def handle(self, session: AsyncSession, event: StoryPublished, now: datetime) -> Handled:
        """Store the story (or, for a link-only event, see whether the feeds brought it)."""
        if event.announced_only:
            link = normalise_link(event.link, event.link) or event.link
            if await story_store.story_ids_for_links(session, [link]):
                return Handled()
            return Handled(wait=f"not in the feeds yet ({link[:200]})", retry=ANNOUNCED_RETRY)
        return await self._store(session, event, now)

    async def _store(self, session: AsyncSession, event: StoryPublished, now: datetime) -> Handled:
        try:
            parsed = parse_feed(
                story_document(event),
                url=event.link,
                content_type="application/feed+json",
                now=now,
            )
        except NotAFeedError as exc:  # cannot happen for a document we wrote; never retry it
            raise MalformedEvent(f"unreadable story: {exc.reason}") from None
        if not parsed.entries:
            raise MalformedEvent("the story has no title or link")
        draft = parsed.entries[0]
        settings = self._settings
        sections = sections_for_item(draft, None, settings.category_sections)
        for name in event.sections:
            slug = section_slug(name)
            if slug in settings.offered:
                sections.setdefault(slug, name)
        edition = self.edition_of(event)
        policy = story_store.IngestPolicy(
            now=now,
            # The outlet just published it: news, unless its date says it is old.
            news=frozenset(
                {draft.identity}
                if is_news(
                    draft.published_at,
                    baseline=Baseline(taken=True, empty_at=None),
                    now=now,
                    push_max_age=timedelta(seconds=settings.push_max_age),
                )
                else ()
            ),
            breaking=frozenset(
                {draft.identity}
                if event.breaking
                or is_breaking(draft.title, draft.categories, settings.breaking_markers)
                else ()
            ),
            edition=edition,
        )
        await story_store.remember_sections(session, dict(sections), now, edition)
        outcome = await story_store.store_feed_items(
            session, None, [(draft, tuple(sections))], policy
        )
        await delivery_store.queue_broadcasts(
            session, [(s.id, s.breaking) for s in outcome.new], PUSH, now
        )
        for story in outcome.updated:
            await delivery_store.requeue_edit(session, story.id, now)
        for story in outcome.new:
            log.info("story.published: story=%d stored, pushing (%s)", story.id, edition)
        for story in outcome.updated:
            log.info("story.published: story=%d corrected", story.id)
        if outcome.new or outcome.updated:
            return Handled(after=self._wake_fanout)
        return Handled()
