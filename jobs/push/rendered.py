"""What the render cache keeps and hands the senders: a ``Rendered`` push (its message, its
stories, and the request bodies made from them once for any chat) and an ``Encoded`` request
ready to send."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.clients.telegram import SendMessageTemplate, SendPhotoTemplate
from jobs.push.photos import PhotoChoice
from jobs.push.wording import PushMessage
from storage.records import StoryView

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
    stale: bool = False  # a channel post that waited too long for its channel: not posted


def text_preview(story: StoryView | None, images: bool) -> str:
    """How a push's text shows its article: no preview for a reader of text only, the
    article's picture large above the text for a story with one, else the usual preview."""
    if not images:
        return NO_PREVIEW
    return LARGE_PREVIEW if story is not None and story.image_url else PREVIEW
