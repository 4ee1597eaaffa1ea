"""Rendering pushes once for many readers: every reader of the same stories in the same time
zone, language and keywords shares one render and its serialised bodies; ``push_request``
is the one rule for what a push looks like (a photo, or text with or without a preview)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from jobs.clients.telegram import (
    SendMessageTemplate,
    SendPhotoTemplate,
    encode_edit_message_caption,
    encode_edit_message_text,
)
from jobs.push.photos import PhotoChoice, StoryPhotos
from jobs.push.pipeline import Unit
from jobs.push.settings import FanoutSettings
from jobs.push.wording import PushMessage, PushWording
from storage import deliveries as queue
from storage import stories as story_store
from storage.deliveries import EDIT, DeliveryJob
from storage.engine import SessionFactory
from storage.models import PRIORITY_BREAKING
from storage.records import StoryView

# How long a render is reused: "3 min ago" stays true, an edited story is rendered afresh.
RENDER_TTL = 60.0
# Bounded: grouped pushes make many distinct keys.
MAX_RENDERS = 10_000

# Story ids, time zone, language, and for a keyword alert the followed words it matched.
RenderKey = tuple[tuple[int, ...], str, str, tuple[str, ...]]


# How a push's text shows the article's link: its usual preview; the article's picture
# large above the text (a story with a picture, sent as text); or no preview (text only).
PREVIEW, LARGE_PREVIEW, NO_PREVIEW = "preview", "large", "none"


class Rendered:
    """A cached push: the message and its stories, and the request bodies made from them
    (each serialised once for any chat, the first time a push needs it), until ``expires``."""

    __slots__ = ("_paid", "_photo", "_texts", "expires", "message", "stories")

    def __init__(
        self, expires: float, message: PushMessage, stories: list[StoryView], *, paid: bool
    ) -> None:
        self.expires = expires
        self.message = message
        self.stories = stories
        self._paid = paid
        self._texts: dict[str, SendMessageTemplate] = {}
        self._photo: SendPhotoTemplate | None = None

    @property
    def story(self) -> StoryView | None:
        """The story of a one-story push (None: a grouped push, always text)."""
        return self.stories[0] if len(self.stories) == 1 else None

    def text(self, preview: str = PREVIEW) -> SendMessageTemplate:
        """sendMessage bodies of the push with its link shown as ``preview`` says."""
        template = self._texts.get(preview)
        if template is None:
            message = self.message
            template = self._texts[preview] = SendMessageTemplate(
                message.text,
                reply_markup=message.reply_markup,
                link_preview_url=message.preview_url,
                disable_link_preview=preview == NO_PREVIEW,
                large_preview=preview == LARGE_PREVIEW,
                allow_paid_broadcast=self._paid,
            )
        return template

    def photo(self) -> SendPhotoTemplate:
        """sendPhoto bodies of the push (its text as the caption)."""
        if self._photo is None:
            message = self.message
            assert message.caption is not None
            self._photo = SendPhotoTemplate(
                message.caption,
                reply_markup=message.reply_markup,
                allow_paid_broadcast=self._paid,
            )
        return self._photo


@dataclass(frozen=True, slots=True)
class Encoded:
    """A request ready to send: the method, its JSON body (None: the story or message is
    gone, nothing to send), and the plain text to fall back to (pushes only).

    A photo push also carries the ``photo`` it sends and ``without_photo``, the same push as
    text, sent instead when Telegram refuses the picture."""

    method: str
    body: bytes | None
    plain: str | None = None
    silent: bool = False
    photo: PhotoChoice | None = None
    without_photo: bytes | None = None


def text_preview(story: StoryView | None, images: bool) -> str:
    """How a push's text shows its article: no preview for a reader of text only, the
    article's picture large above the text for a story with one, else the usual preview."""
    if not images:
        return NO_PREVIEW
    return LARGE_PREVIEW if story is not None and story.image_url else PREVIEW


class RenderCache:
    """Renders and encodes the message for a unit, reusing renders for a minute."""

    def __init__(
        self,
        sessions: SessionFactory,
        wording: PushWording,
        settings: FanoutSettings,
        photos: StoryPhotos | None = None,
    ) -> None:
        self._sessions = sessions
        self._wording = wording
        self._settings = settings
        self.photos = photos or StoryPhotos(sessions, first_upload_wait=settings.first_photo_wait)
        self._rendered: dict[RenderKey, Rendered] = {}
        # Renders under way: the other workers wanting the same message wait for it.
        self._rendering: dict[RenderKey, asyncio.Event] = {}

    async def encode(self, unit: Unit) -> Encoded:
        """The request that delivers ``unit``: a correction's edit, or a (grouped) push."""
        job = unit.jobs[0]
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
        message = rendered.message
        if pushed.photo:
            # A photo's text is its caption: the whole text when it still fits, else the
            # headline alone.
            caption = message.caption or message.short_caption or message.text
            body = encode_edit_message_caption(
                job.chat_id, job.target_message_id, caption, reply_markup=message.reply_markup
            )
            return Encoded("editMessageCaption", body)
        preview = text_preview(rendered.story, self._images(job))
        body = encode_edit_message_text(
            job.chat_id,
            job.target_message_id,
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
        if len(self._rendered) > MAX_RENDERS:
            self._rendered.clear()
        self._rendered[key] = rendered
        return rendered
