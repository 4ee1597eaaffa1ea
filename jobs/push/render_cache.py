"""Rendering pushes once for many readers: every reader of the same stories in the same time
zone, language and keywords shares one render and one serialised sendMessage body."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from jobs.clients.telegram import (
    SendMessageTemplate,
    encode_edit_message_text,
    encode_send_message,
)
from jobs.push.channels import Channels
from jobs.push.pipeline import Unit
from jobs.push.settings import FanoutSettings
from jobs.push.wording import PushMessage, PushWording
from news.clock import utcnow
from storage import deliveries as queue
from storage import stories as story_store
from storage.deliveries import EDIT, DeliveryJob
from storage.engine import SessionFactory

# How long a render is reused: "3 min ago" stays true, an edited story is rendered afresh.
RENDER_TTL = 60.0
# Bounded: grouped pushes make many distinct keys.
MAX_RENDERS = 10_000

# Story ids, time zone, language, and for a keyword alert the followed words it matched.
RenderKey = tuple[tuple[int, ...], str, str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Rendered:
    """A cached push: the message, and its sendMessage body for any chat, until ``expires``."""

    expires: float
    message: PushMessage
    template: SendMessageTemplate


@dataclass(frozen=True, slots=True)
class Encoded:
    """A request ready to send: the method, its JSON body (None: the story or message is
    gone, nothing to send), and the plain text to fall back to (pushes only)."""

    method: str
    body: bytes | None
    plain: str | None = None
    stale: bool = False  # a channel post that waited too long for its channel: not posted


class RenderCache:
    """Renders and encodes the message for a unit, reusing renders for a minute."""

    def __init__(
        self,
        sessions: SessionFactory,
        wording: PushWording,
        settings: FanoutSettings,
        channels: Channels,
    ) -> None:
        self._sessions = sessions
        self._wording = wording
        self._settings = settings
        self._channels = channels
        self._rendered: dict[RenderKey, Rendered] = {}
        # Renders under way: the other workers wanting the same message wait for it.
        self._rendering: dict[RenderKey, asyncio.Event] = {}

    async def encode(self, unit: Unit) -> Encoded:
        """The request that delivers ``unit``: a correction's edit, or a (grouped) push."""
        job = unit.jobs[0]
        if self._channels.is_channel(job.chat_id):
            return await self._encode_channel_post(job)
        if job.kind == EDIT:
            return await self._encode_edit(job)
        # A keyword alert says which followed words brought it ("🔔 kirkuk").
        keywords = tuple(sorted({w for j in unit.jobs if j.matched for w in j.matched.split(",")}))
        rendered = await self.message(job, [j.story_id for j in unit.jobs], keywords=keywords)
        if rendered is None:
            return Encoded("sendMessage", None)
        # The same body as encode_send_message's, serialised once for every reader of it.
        body = rendered.template.encode(job.chat_id, job.thread_id or None)
        return Encoded("sendMessage", body, rendered.message.plain)

    async def _encode_channel_post(self, job: DeliveryJob) -> Encoded:
        """A channel post, or its correction: rendered afresh, in the edition's language. A
        post that waited longer than PUSH_MAX_AGE (the channel was broken) is old news by
        then, and is not posted."""
        method = "editMessageText" if job.kind == EDIT else "sendMessage"
        async with self._sessions() as session:
            story = await story_store.get_story(session, job.story_id)
        if story is None or (job.kind == EDIT and job.target_message_id is None):
            return Encoded(method, None)
        if job.kind != EDIT and story.first_seen_at < utcnow() - self._settings.push_max_age:
            return Encoded(method, None, stale=True)
        message = self._channels.render(story)
        if job.kind == EDIT:
            assert job.target_message_id is not None
            body = encode_edit_message_text(
                job.chat_id,
                job.target_message_id,
                message.text,
                reply_markup=message.reply_markup,
                link_preview_url=message.preview_url,
            )
            return Encoded(method, body)
        body = encode_send_message(
            job.chat_id,
            message.text,
            reply_markup=message.reply_markup,
            link_preview_url=message.preview_url,
        )
        return Encoded(method, body, message.plain)

    async def _encode_edit(self, job: DeliveryJob) -> Encoded:
        if job.target_message_id is None:
            return Encoded("editMessageText", None)
        async with self._sessions() as session:
            ids, keywords = await queue.pushed_message(session, job.chat_id, job.target_message_id)
        ids = ids or [job.story_id]
        # A correction shows the story as it reads now: never from the cache. An alert keeps
        # saying why it came.
        rendered = await self.message(job, ids, fresh=True, keywords=keywords)
        if rendered is None:
            return Encoded("editMessageText", None)
        message = rendered.message
        body = encode_edit_message_text(
            job.chat_id,
            job.target_message_id,
            message.text,
            reply_markup=message.reply_markup,
            link_preview_url=message.preview_url,
        )
        return Encoded("editMessageText", body)

    async def message(
        self,
        job: DeliveryJob,
        ids: list[int],
        *,
        fresh: bool = False,
        keywords: tuple[str, ...] = (),
    ) -> Rendered | None:
        """The rendered push, shared by every reader of the same stories in the same zone.

        A broadcast renders its story once per time zone instead of once per reader: at a
        thousand messages a second, a database read and a render per message would cost more
        than the send. Entries live a minute, so "3 min ago" stays true and an edited story
        is rendered afresh (its correction is sent as an edit anyway). While one worker
        renders, the others wanting the same message wait for it instead of each reading and
        rendering it too (all workers start on the first broadcast at once). ``fresh`` skips
        the cache and any render under way: a correction shows the story as it reads now.
        """
        zone = job.timezone or self._settings.default_timezone
        language = self._wording.language(job.locale)
        key = (tuple(ids), zone, language, keywords)
        loop = asyncio.get_running_loop()
        while not fresh:
            cached = self._rendered.get(key)
            if cached is not None and cached.expires > loop.time():
                return cached
            rendering = self._rendering.get(key)
            if rendering is None:
                break
            await rendering.wait()  # then the cache has it, unless that render failed
        done = self._rendering[key] = asyncio.Event()
        try:
            return await self._render(key, ids, zone, language, keywords)
        finally:
            if self._rendering.get(key) is done:
                del self._rendering[key]
            done.set()

    async def _render(
        self, key: RenderKey, ids: list[int], zone: str, language: str, keywords: tuple[str, ...]
    ) -> Rendered | None:
        """Read the stories, render them, and keep the render under ``key``."""
        async with self._sessions() as session:
            found = await story_store.get_stories(session, ids)
        stories = [found[i] for i in ids if i in found]
        if not stories:
            return None
        message = self._wording(stories, zone, locale=language, keywords=keywords)
        rendered = Rendered(
            asyncio.get_running_loop().time() + RENDER_TTL,
            message,
            SendMessageTemplate(
                message.text,
                reply_markup=message.reply_markup,
                link_preview_url=message.preview_url,
                allow_paid_broadcast=self._settings.paid_broadcast,
            ),
        )
        if len(self._rendered) > MAX_RENDERS:
            self._rendered.clear()
        self._rendered[key] = rendered
        return rendered
