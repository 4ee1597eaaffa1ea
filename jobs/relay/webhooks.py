"""One outbox row as a Standard Webhook: its payload, the POST, and what the answer means."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from jobs.clients.outlet import OutletClient, OutletUnreachable
from jobs.relay.claiming import Claimed
from jobs.relay.recording import Recorder
from jobs.relay.settings import RelayStats
from news.outlet_answers import Outcome, classify_answer
from storage.comments import CREATED
from storage.outbox import EventJob

log = logging.getLogger(__name__)


def webhook_payload(job: EventJob, pseudonym_of: Callable[[int], str]) -> dict[str, Any] | None:
    """The webhook's JSON body; None when the comment was deleted (/forget) after its row
    was claimed."""
    timestamp = job.created_at.astimezone(UTC).isoformat(timespec="seconds")
    timestamp = timestamp.replace("+00:00", "Z")
    if job.type != CREATED:
        return {"type": job.type, "timestamp": timestamp, "data": job.payload or {}}
    comment = job.comment
    if comment is None:
        return None
    return {
        "type": CREATED,
        "timestamp": timestamp,
        "data": {
            "article": {
                "url": comment.article_url,
                "guid": comment.article_guid,
                "title": comment.article_title,
            },
            "author": {"name": comment.author_name, "pseudonym": pseudonym_of(comment.user_id)},
            "text": comment.text,
            "format": "plain",
            "language": comment.language,
            "source": "telegram",
            # A reply to another comment: the outlet's id of it when known, and its
            # webhook-id when the bot relayed it (README, "the contract with the outlet").
            **({"in_reply_to": job.in_reply_to} if job.in_reply_to else {}),
            **(
                {"in_reply_to_webhook_id": job.in_reply_to_webhook_id}
                if job.in_reply_to_webhook_id
                else {}
            ),
        },
    }


class WebhookSender:
    """Sends one claimed row and has its outcome recorded; never leaves a row leased by a bug."""

    def __init__(
        self,
        client: OutletClient,
        recorder: Recorder,
        stats: RelayStats,
        pseudonym_of: Callable[[int], str],
        clock: Callable[[], datetime],
    ) -> None:
        self._client = client
        self._recorder = recorder
        self._stats = stats
        self._pseudonym_of = pseudonym_of
        self._clock = clock

    async def send(self, claimed: Claimed) -> None:
        """POST the row, then record the answer."""
        job = claimed.job
        try:
            outcome = await self._post(job)
        except Exception as exc:  # a bug here must not leave the row leased forever
            log.exception("comment relay: building webhook %s failed", job.webhook_id)
            outcome = Outcome("retry", reason=f"internal error ({type(exc).__name__})")
        self._stats.posts += 1
        try:
            await self._recorder.record(claimed, outcome)
        except Exception:
            # The lease runs out and the row is sent again, with the same webhook-id.
            log.exception("comment relay: recording the answer to %s failed", job.webhook_id)

    async def _post(self, job: EventJob) -> Outcome:
        payload = webhook_payload(job, self._pseudonym_of)
        if payload is None:
            return Outcome("delivered", reason="the comment no longer exists")
        try:
            answer = await self._client.post(job.webhook_id, payload)
        except OutletUnreachable as exc:
            return Outcome("retry", reason=str(exc))
        return classify_answer(job.type, answer.status, answer.body, answer.headers, self._clock())
