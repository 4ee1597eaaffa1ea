"""Rendering pushes once for many readers: every reader of the same stories in the same time
zone, language and keywords shares one render and its serialised bodies; ``push_request``
is the one rule for what a push looks like (a photo, or text with or without a preview),
in a reader's chat and in the outlet's channels alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from jobs.clients.telegram import encode_edit_message_caption, encode_edit_message_text
from jobs.push.channels import Channels
from jobs.push.photos import StoryPhotos
from jobs.push.pipeline import Unit
from jobs.push.rendered import LARGE_PREVIEW, NO_PREVIEW, Encoded, Rendered, text_preview
from jobs.push.settings import FanoutSettings
from jobs.push.wording import PushWording
from news.clock import utcnow
from storage import channels as channel_store
from storage import deliveries as queue
from storage import stories as story_store
from storage.deliveries import EDIT, DeliveryJob
from storage.engine import SessionFactory
from storage.models import PRIORITY_BREAKING

# How long a render is reused: "3 min ago" stays true, an edited story is rendered afresh.
RENDER_TTL = 60.0
# Bounded: grouped pushes make many distinct keys.
MAX_RENDERS = 10_000

# Story ids, time zone, language, and for a keyword alert the followed words it matched.
RenderKey = tuple[tuple[int, ...], str, str, tuple[str, ...]]


class RenderCache:
    """Renders and encodes the message for a unit, reusing renders for a minute."""

    def __init__(
        self,
        sessions: SessionFactory,
        wording: PushWording,
        settings: FanoutSettings,
        channels: Channels,
        photos: StoryPhotos | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._wording = wording
        self._settings = settings
        self._channels = channels
        self.photos = photos or StoryPhotos(sessions, first_upload_wait=settings.first_photo_wait)
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
        return await self.push_request(
            rendered,
            job.chat_id,
            job.thread_id or None,
            images=self._images(job),
            # Silent pushes ring for breaking news all the same.
            silent=job.silent and job.priority != PRIORITY_BREAKING,
        )

    async def push_request(
        self,
        rendered: Rendered,
        chat_id: int | str,
        thread_id: int | None = None,
        *,
        images: bool = True,
        silent: bool = False,
    ) -> Encoded:
        """The one rule for what a push looks like in a chat (a reader's, a group's or a
        channel's): a story with a picture as a photo with its caption when the caption
        fits (and Telegram has not refused the picture), else as text with the picture
        large above it; grouped pushes, and readers of text only, get text."""
        story = rendered.story
        message = rendered.message
        text = rendered.text(text_preview(story, images)).encode(
            chat_id, thread_id, disable_notification=silent
        )
        if images and story is not None and message.caption is not None:
            choice = await self.photos.choose(story)
            if choice is not None:
                body = rendered.photo().encode(
                    chat_id, choice.photo, thread_id, disable_notification=silent
                )
                return Encoded("sendPhoto", body, message.plain, silent, choice, text)
        return Encoded("sendMessage", text, message.plain, silent)

    def _images(self, job: DeliveryJob) -> bool:
        """Whether the reader wants pictures: their choice, else the operator's default."""
        return self._settings.push_images if job.images is None else job.images

    async def _encode_channel_post(self, job: DeliveryJob) -> Encoded:
        """A channel post, or its correction: rendered afresh in the edition's language (the
        channel's line and buttons), and sent by the pushes' one rule: a photo when the story
        has a picture that fits a caption, as PUSH_IMAGES says for readers who did not
        choose. Never silent: the channel's subscribers choose their own notifications. A
        post that waited longer than PUSH_MAX_AGE (the channel was broken) is old news by
        then, and is not posted."""
        method = "editMessageText" if job.kind == EDIT else "sendMessage"
        photo = False
        async with self._sessions() as session:
            story = await story_store.get_story(session, job.story_id)
            if story is not None and job.kind == EDIT and job.target_message_id is not None:
                photo = await channel_store.channel_post_is_photo(
                    session, job.chat_id, job.target_message_id
                )
        if story is None or (job.kind == EDIT and job.target_message_id is None):
            return Encoded(method, None)
        if job.kind != EDIT and story.first_seen_at < self._clock() - self._settings.push_max_age:
            return Encoded(method, None, stale=True)
        loop = asyncio.get_running_loop()
        # Paid broadcasts are for readers beyond 30 a second; a channel's post is one message.
        rendered = Rendered(loop.time(), self._channels.render(story), [story], paid=False)
        images = self._settings.push_images
        if job.kind == EDIT:
            assert job.target_message_id is not None
            return self._edit(job.chat_id, job.target_message_id, rendered, photo, images)
        return await self.push_request(rendered, job.chat_id, images=images)

    async def _encode_edit(self, job: DeliveryJob) -> Encoded:
        if job.target_message_id is None:
            return Encoded("editMessageText", None)
        async with self._sessions() as session:
            pushed = await queue.pushed_message(session, job.chat_id, job.target_message_id)
        ids = pushed.story_ids or [job.story_id]
        # A correction shows the story as it reads now: never from the cache. An alert keeps
        # saying why it came.
        rendered = await self.message(job, ids, fresh=True, keywords=pushed.keywords)
        if rendered is None:
            return Encoded("editMessageText", None)
        images = self._images(job)
        return self._edit(job.chat_id, job.target_message_id, rendered, pushed.photo, images)

    @staticmethod
    def _edit(
        chat_id: int, message_id: int, rendered: Rendered, photo: bool, images: bool
    ) -> Encoded:
        """The correction of a message sent: its caption when it went as a photo, else its
        text (with its link shown as the push showed it)."""
        message = rendered.message
        if photo:
            # A photo's text is its caption: the whole text when it still fits, else the
            # headline alone.
            caption = message.caption or message.short_caption or message.text
            body = encode_edit_message_caption(
                chat_id, message_id, caption, reply_markup=message.reply_markup
            )
            return Encoded("editMessageCaption", body)
        preview = text_preview(rendered.story, images)
        body = encode_edit_message_text(
            chat_id,
            message_id,
            message.text,
            reply_markup=message.reply_markup,
            link_preview_url=message.preview_url,
            disable_link_preview=preview == NO_PREVIEW,
            large_preview=preview == LARGE_PREVIEW,
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
            stories,
            paid=self._settings.paid_broadcast,
        )
        self._forget_expired(asyncio.get_running_loop().time())
        if len(self._rendered) > MAX_RENDERS:
            self._rendered.clear()
        # Re-inserted at the end, so the dict stays in the order its entries expire.
        self._rendered.pop(key, None)
        self._rendered[key] = rendered
        return rendered

    def _forget_expired(self, now: float) -> None:
        """Drop the renders whose minute is over, oldest first. Kept until MAX_RENDERS
        instead, a month of stories (texts, stories, encoded bodies) stayed in memory for
        nothing (benchmarks/soak.py)."""
        while self._rendered:
            oldest = next(iter(self._rendered))
            if self._rendered[oldest].expires > now:
                return
            del self._rendered[oldest]
