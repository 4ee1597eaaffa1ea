"""Comment relay: the outbox of readers' comments, POSTed to the outlet as Standard Webhooks.

Comments are stored with their outbox row first (``storage.comments``); this module only
sends what storage says is due and records each answer. Rows are claimed one by one under a
lease, so several instances may relay at once and a crash mid-POST re-sends only that POST,
with the same ``webhook-id`` (the outlet's idempotency key). No transaction is open while a
POST is in flight.

What the outlet's answer means:

- 2xx: the outlet has the comment (published, or held for its own moderation).
- 403, 413, 422 and other 4xx: a verdict on this comment; never retried.
- 408, 409, 429, 5xx, timeouts, connection errors: retried with exponential back-off and
  jitter, honouring Retry-After, until the row's deadline (COMMENT_RETRY_HOURS).
- 401, 404, 410 (and redirects): the endpoint or the secret is wrong, not the comment.
  Relaying pauses for every instance (``bot_state``), the admins are told once, and it
  resumes when the configuration changes or an hourly probe gets through. Comments wait;
  the pause does not count against their deadlines.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import math
import random
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import aiohttp
from standardwebhooks import Webhook

from jobs import metrics
from news.admin_alerts import (
    RELAY_BAD_SECRET,
    RELAY_MOVED,
    RELAY_NO_ENDPOINT,
    RELAY_PAUSED,
    RELAY_RECONFIGURED,
    RELAY_RESUMED,
    RELAY_SITE_ACCEPTS,
    AdminAlert,
)
from news.clock import utcnow
from news.plain_text import clean_plain
from news.retry_timing import backoff, parse_retry_after
from storage import outbox
from storage.bot_state import ensure_state, get_state, set_state
from storage.comments import (
    CREATED,
    TRYING,
    CommentView,
    get_comment,
    mark_told,
    overdue_queued,
    untold_verdicts,
)
from storage.engine import SessionFactory, writing
from storage.outbox import EventJob

log = logging.getLogger(__name__)

PAUSE_KEY = "comment_relay_paused"
PSEUDONYM_KEY_STATE = "pseudonym_key"
# After this many failed attempts the reader hears that their comment is still on its way.
STILL_TRYING_AFTER = 3
# ... or once it has waited this long, whatever the reason (a pause counts no attempts).
STILL_TRYING_AFTER_TIME = timedelta(minutes=10)
# The outlet's answer is read only this far: enough for an id, a status and a reason.
MAX_ANSWER_BYTES = 64 * 1024
REASON_LIMIT = 200
# A verdict nobody told its reader about this long after it arrived is told by the sweep,
# which runs this often (the process that got it may have died before telling).
UNTOLD_AFTER = timedelta(seconds=30)
UNTOLD_SWEEP_EVERY = 15.0

# Statuses that say the endpoint or the secret is wrong, whatever the comment.
_MISCONFIGURED = {401, 404, 410}
# 4xx that are about timing or conflicts, not about the comment: worth another try.
_RETRYABLE_4XX = {408, 409, 429}

# Why a comment was refused or failed, as the reader is told it: stored (comment.reason) as
# a language-free code with its figures, "relay:refused?status=418", and worded in the
# reader's language when shown (bot.comment_texts.relay_reason). An outlet's own explanation
# is stored as it came, and so are the English sentences stored before codes existed.
REASON_PREFIX = "relay:"
REASON_UNREADABLE = "unreadable"  # 400, 415
REASON_REFUSED_HERE = "refused_here"  # 403: comments may be closed on the article
REASON_TOO_LONG = "too_long"  # 413
REASON_NOT_ACCEPTED = "not_accepted"  # 422
REASON_REFUSED = "refused"  # any other 4xx verdict; figures: status
REASON_UNREACHABLE = "unreachable"  # retries ran out; figures: minutes tried

_PLAIN_REASONS = {
    400: REASON_UNREADABLE,
    403: REASON_REFUSED_HERE,
    413: REASON_TOO_LONG,
    415: REASON_UNREADABLE,
    422: REASON_NOT_ACCEPTED,
}


def reason_code(code: str, **figures: int) -> str:
    """A reason for the reader, as stored: ``relay:<code>`` with its figures as a query."""
    query = "&".join(f"{key}={value}" for key, value in sorted(figures.items()))
    return f"{REASON_PREFIX}{code}{'?' + query if query else ''}"


def parse_reason(reason: str | None) -> tuple[str, dict[str, int]] | None:
    """A stored reason's code and figures; None when it is words (the outlet's own, or a
    sentence stored before codes existed), to be shown as they are."""
    if not reason or not reason.startswith(REASON_PREFIX):
        return None
    code, _, query = reason.removeprefix(REASON_PREFIX).partition("?")
    figures: dict[str, int] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        if not value.isdigit():
            return None
        figures[key] = int(value)
    return (code, figures) if code.isidentifier() else None


class CommentNotifier(Protocol):
    """The bot side of the relay: tells readers and admins what happened (never raises)."""

    async def comment_changed(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        """The comment reached a final state (published, relayed, rejected, failed), or —
        with ``still_trying`` — it is still on its way and the reader should know (once);
        ``paused`` says why: the outlet refuses every comment for now (relaying paused)."""

    async def alert_admins(self, alert: AdminAlert) -> None:
        """One alert to the bot's administrators (ADMIN_IDS), worded in each one's language."""


def settings_fingerprint(url: str, secret: bytes | None) -> str:
    """A short hash of the endpoint and the secret: a pause lasts until this changes."""
    digest = hashlib.sha256(url.encode() + b"\0" + (secret or b""))
    return digest.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """The relay's knobs, as plain values from the settings."""

    url: str
    secret: bytes | None  # the HMAC key (COMMENTS_SECRET decoded); None: no signature header
    timeout: float = 10.0
    lease: timedelta = timedelta(seconds=60)
    first_retry: float = 1.0  # seconds before the first retry; doubles with each failure
    max_backoff: float = 30 * 60.0
    concurrency: int = 4  # POSTs in flight at once, per instance
    # The longest the relay sleeps without looking at the outbox: rows written by other
    # instances (which cannot wake this one) are seen within this time.
    idle_wait: float = 20.0
    probe_every: float = 3600.0  # while paused, how often one comment tests the outlet
    stop_grace: float = 5.0  # how long stop() waits for POSTs in flight

    def __post_init__(self) -> None:
        # A lease shorter than a POST would let another instance send the same row again.
        if self.lease.total_seconds() < self.timeout + 5:
            raise ValueError("the lease must outlast the HTTP timeout by a few seconds")

    @property
    def fingerprint(self) -> str:
        """A hash of URL and secret: a pause for a wrong endpoint/secret ends when this changes."""
        return settings_fingerprint(self.url, self.secret)


def pseudonym(key: bytes, user_id: int) -> str:
    """The opaque, stable id the outlet sees instead of the Telegram user id (keyed hash)."""
    return hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]


async def load_pseudonym_key(
    sessions: SessionFactory, configured: str | None, *, now: datetime | None = None
) -> bytes:
    """PSEUDONYM_KEY when set, else a random key generated once and kept in the database.

    The first instance to store one wins, so every instance gives a reader the same pseudonym.
    """
    if configured:
        return configured.encode()
    async with writing(sessions) as session:
        stored = await ensure_state(
            session, PSEUDONYM_KEY_STATE, secrets.token_hex(32), now or utcnow()
        )
    return stored.encode()


# --- what an answer means (pure) ------------------------------------------------------------


OutcomeKind = Literal["delivered", "rejected", "retry", "pause"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to record for one POST."""

    kind: OutcomeKind
    status: int | None = None  # the HTTP status; None for a timeout or a connection error
    published: bool = False
    outlet_id: str | None = None
    outlet_status: str | None = None
    # For ``rejected``, what the reader is told: a reason code (``reason_code``) or the
    # outlet's own words; otherwise what went wrong, for the logs.
    reason: str = ""
    retry_after: float | None = None  # seconds, from the Retry-After header

    @property
    def endpoint_works(self) -> bool:
        """The outlet read the comment and answered it: the URL and the secret are right."""
        return self.kind in ("delivered", "rejected") and self.status not in _MISCONFIGURED


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _outlet_reason(body: Mapping[str, Any]) -> str | None:
    """The outlet's own explanation, as one short line of plain text."""
    for key in ("reason", "message", "error", "detail"):
        value = body.get(key)
        if isinstance(value, dict):  # {"error": {"message": "..."}}
            value = value.get("message") or value.get("reason")
        if isinstance(value, str) and value.strip():
            return clean_plain(value, REASON_LIMIT)
    return None


def classify_answer(
    event_type: str, status: int, raw: bytes, headers: Mapping[str, str], now: datetime
) -> Outcome:
    """Turn the outlet's HTTP answer to one webhook into what the relay records."""
    body = _json_object(raw)
    if 200 <= status < 300:
        outlet_status = body.get("status") if isinstance(body.get("status"), str) else None
        outlet_id = body.get("id")
        # 202: accepted for the outlet's own moderation, unless the body says approved.
        published = outlet_status == "approved" if status == 202 else outlet_status != "pending"
        return Outcome(
            "delivered",
            status,
            published=published,
            outlet_id=str(outlet_id) if isinstance(outlet_id, str | int) else None,
            outlet_status=outlet_status,
        )
    if event_type != CREATED and status in (404, 410):
        # Deleting what the outlet does not have (any more) is done.
        return Outcome("delivered", status, reason=f"HTTP {status}: nothing to delete")
    if status in _MISCONFIGURED or 300 <= status < 400:
        return Outcome("pause", status, reason=f"HTTP {status}")
    if 400 <= status < 500 and status not in _RETRYABLE_4XX:
        code = _PLAIN_REASONS.get(status)
        reason = _outlet_reason(body) or (
            reason_code(code) if code else reason_code(REASON_REFUSED, status=status)
        )
        return Outcome("rejected", status, reason=reason)
    return Outcome(
        "retry",
        status,
        reason=f"HTTP {status}",
        retry_after=parse_retry_after(headers.get("Retry-After"), now),
    )


# --- the pause shared by every instance -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class RelayPause:
    """Relaying is paused because the outlet refused the endpoint or the secret."""

    reason: str
    since: datetime
    fingerprint: str
    probe_at: datetime  # when one comment may next test whether the outlet is back

    def dump(self) -> str:
        return json.dumps(
            {
                "reason": self.reason,
                "since": self.since.isoformat(),
                "fingerprint": self.fingerprint,
                "probe_at": self.probe_at.isoformat(),
            }
        )

    @classmethod
    def load(cls, raw: str | None, now: datetime) -> RelayPause | None:
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            since = datetime.fromisoformat(data["since"])
            return cls(
                reason=str(data.get("reason", "")),
                since=since,
                fingerprint=str(data.get("fingerprint", "")),
                probe_at=datetime.fromisoformat(data.get("probe_at") or data["since"]),
            )
        except (ValueError, KeyError, TypeError):
            # Unreadable but present: still a pause (nothing is dropped), probed at once.
            return cls(reason="unknown", since=now, fingerprint="", probe_at=now)


def _pause_alert(status: int | None) -> AdminAlert:
    """The admins' alert for a pause: the outlet's answer and what it says to fix."""
    if status == 401:
        cause = RELAY_BAD_SECRET  # it refused the signature: COMMENTS_SECRET is probably wrong
    elif status is not None and 300 <= status < 400:
        cause = RELAY_MOVED  # the endpoint has moved: COMMENTS_URL needs updating
    else:
        cause = RELAY_NO_ENDPOINT  # no such endpoint: COMMENTS_URL is probably wrong
    params: dict[str, str | int | float] = {"cause": cause}
    if status is not None:
        params["status"] = status
    return AdminAlert(RELAY_PAUSED, params)


# --- the relay ------------------------------------------------------------------------------


@dataclass(slots=True)
class RelayStats:
    """What this instance's relay has done since it started (for /stats and tests)."""

    posts: int = 0
    delivered: int = 0
    rejected: int = 0
    retried: int = 0
    expired: int = 0
    paused: bool = False
    last_error: str | None = None


@dataclass(slots=True)
class _Claimed:
    job: EventJob
    probe: bool = False
    pause: RelayPause | None = None  # the pause in force when claimed (probes only)


@dataclass(slots=True)
class _Pass:
    claimed: list[_Claimed] = field(default_factory=list)
    wait: float = 0.0


class CommentRelay:
    """Sends every due outbox row; ``wake()`` after writing one; ``start()`` / ``stop()``.

    The notifier may be given late (``relay.notifier = ...``): the bot that tells readers
    exists only once the Telegram application is built. Without one, outcomes are recorded
    and logged but nobody is told.
    """

    def __init__(
        self,
        sessions: SessionFactory,
        http: aiohttp.ClientSession,
        settings: RelaySettings,
        pseudonym_key: bytes,
        notifier: CommentNotifier | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.http = http
        self.settings = settings
        self.notifier = notifier
        self.stats = RelayStats()
        self._key = pseudonym_key
        self._clock = clock
        self._signer = Webhook(settings.secret) if settings.secret else None
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._inflight: dict[asyncio.Task[None], int] = {}  # task → outbox row id

    def wake(self) -> None:
        """New work in the outbox: send it now rather than at the next timer."""
        self._wake.set()

    def pseudonym(self, user_id: int) -> str:
        """``pseudonym(key, user_id)`` with this relay's key."""
        return pseudonym(self._key, user_id)

    def set_notifier(self, notifier: CommentNotifier) -> None:
        """Attach the bot side once it exists."""
        self.notifier = notifier

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Lift a pause made under another configuration, then relay in the background."""
        if self.running:
            return
        self._stopping = False
        await self._resume_if_reconfigured()
        self._task = asyncio.create_task(self._run(), name="comment-relay")

    async def stop(self) -> None:
        """Stop claiming, let POSTs in flight finish briefly, hand the rest back."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._busy():
            await asyncio.wait(self._busy(), timeout=self.settings.stop_grace)
        left = {task: row for task, row in self._inflight.items() if not task.done()}
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        # Rows whose answer was never recorded go back for the next start or another instance.
        ids = list(left.values())
        if ids:
            try:
                async with writing(self.sessions) as session:
                    await outbox.release_events(session, ids, self._clock())
            except Exception:  # the leases run out anyway; another instance picks them up
                log.exception("comment relay: could not release %d outbox rows", len(ids))
        self._inflight.clear()

    # --- the loop ---

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not self._stopping:
            if loop.time() >= next_sweep and self.notifier is not None:
                next_sweep = loop.time() + UNTOLD_SWEEP_EVERY
                try:
                    await self._tell_untold()
                except Exception:
                    log.exception("comment relay: looking for untold verdicts failed")
            free = self.settings.concurrency - len(self._busy())
            wait: float | None = None  # None: until a POST finishes or a wake
            if free > 0:
                self._wake.clear()  # before claiming, so a wake during the claim is kept
                try:
                    step = await self._claim(free)
                except Exception as exc:
                    log.exception("comment relay: claiming from the outbox failed")
                    self.stats.last_error = type(exc).__name__
                    step = _Pass(wait=min(5.0, self.settings.idle_wait))
                for claimed in step.claimed:
                    task = asyncio.create_task(self._send(claimed), name="comment-relay-post")
                    self._inflight[task] = claimed.job.id
                    task.add_done_callback(lambda done: self._inflight.pop(done, None))
                if len(step.claimed) < free:
                    # A short floor: rows another instance is claiming look due for a moment.
                    wait = max(0.05, step.wait)
            await self._sleep(wait)

    def _busy(self) -> list[asyncio.Task[None]]:
        return [task for task in self._inflight if not task.done()]

    async def _sleep(self, seconds: float | None) -> None:
        """Until woken, a POST finishes (a slot is free), or ``seconds`` pass."""
        if self._wake.is_set():
            return
        waker = asyncio.create_task(self._wake.wait())
        try:
            await asyncio.wait(
                [waker, *self._busy()], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waker.cancel()

    async def _claim(self, limit: int) -> _Pass:
        """Lease what is due; while paused, at most one probe an hour."""
        settings = self.settings
        async with writing(self.sessions) as session:
            now = self._clock()
            pause = RelayPause.load(await get_state(session, PAUSE_KEY, for_update=True), now)
            self.stats.paused = pause is not None
            if pause is not None:
                if now < pause.probe_at:
                    return _Pass(wait=min(settings.idle_wait, _seconds(pause.probe_at - now)))
                jobs = await outbox.claim_events(session, now, limit=1, lease=settings.lease)
                if not jobs:
                    return _Pass(wait=settings.idle_wait)
                probe_at = now + timedelta(seconds=settings.probe_every)
                await set_state(session, PAUSE_KEY, replace(pause, probe_at=probe_at).dump(), now)
                return _Pass([_Claimed(jobs[0], probe=True, pause=pause)], settings.idle_wait)
            jobs = await outbox.claim_events(session, now, limit=limit, lease=settings.lease)
            wait = settings.idle_wait
            if len(jobs) < limit:
                due = await outbox.next_event_due(session)
                if due is not None:
                    wait = min(wait, max(0.0, _seconds(due - now)))
        return _Pass([_Claimed(job) for job in jobs], wait)

    # --- one webhook ---

    async def _send(self, claimed: _Claimed) -> None:
        job = claimed.job
        try:
            outcome = await self._post(job)
        except Exception as exc:  # a bug here must not leave the row leased forever
            log.exception("comment relay: building webhook %s failed", job.webhook_id)
            outcome = Outcome("retry", reason=f"internal error ({type(exc).__name__})")
        self.stats.posts += 1
        try:
            await self._record(claimed, outcome)
        except Exception:
            # The lease runs out and the row is sent again, with the same webhook-id.
            log.exception("comment relay: recording the answer to %s failed", job.webhook_id)

    def _body(self, job: EventJob) -> dict[str, Any] | None:
        timestamp = job.created_at.astimezone(UTC).isoformat(timespec="seconds")
        timestamp = timestamp.replace("+00:00", "Z")
        if job.type != CREATED:
            return {"type": job.type, "timestamp": timestamp, "data": job.payload or {}}
        comment = job.comment
        if comment is None:
            return None
        body: dict[str, Any] = {
            "type": CREATED,
            "timestamp": timestamp,
            "data": {
                "article": {
                    "url": comment.article_url,
                    "guid": comment.article_guid,
                    "title": comment.article_title,
                },
                "author": {
                    "name": comment.author_name,
                    "pseudonym": self.pseudonym(comment.user_id),
                },
                "text": comment.text,
                "format": "plain",
                "language": comment.language,
                "source": "telegram",
            },
        }
        if job.in_reply_to is not None:
            # A reply to another comment (in a channel's discussion thread).
            body["data"]["in_reply_to"] = job.in_reply_to
        return body

    def _headers(self, webhook_id: str, body: str) -> dict[str, str]:
        # Whole seconds: the header carries them, and the signature must cover the same value.
        sent_at = datetime.fromtimestamp(math.floor(self._clock().timestamp()), UTC)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
        }
        if self._signer is not None:
            headers["webhook-signature"] = self._signer.sign(webhook_id, sent_at, body)
        return headers

    async def _post(self, job: EventJob) -> Outcome:
        body = self._body(job)
        if body is None:  # the comment was deleted (/forget) after the row was claimed
            return Outcome("delivered", reason="the comment no longer exists")
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        headers = self._headers(job.webhook_id, text)
        try:
            async with self.http.post(
                self.settings.url,
                data=text.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.settings.timeout),
                allow_redirects=False,  # a redirect would turn the POST into a GET
            ) as response:
                raw = await response.content.read(MAX_ANSWER_BYTES)
                return classify_answer(
                    job.type, response.status, raw, response.headers, self._clock()
                )
        except TimeoutError:
            return Outcome("retry", reason="no answer in time")
        except aiohttp.ClientError as exc:
            return Outcome("retry", reason=f"connection failed ({type(exc).__name__})")

    async def _record(self, claimed: _Claimed, outcome: Outcome) -> None:
        job = claimed.job
        now = self._clock()
        changed: CommentView | None = None
        trying: CommentView | None = None  # still being retried; the reader hears it once
        paused_now = False
        async with writing(self.sessions) as session:
            if outcome.kind == "delivered":
                changed = await outbox.event_delivered(
                    session,
                    job.id,
                    now=now,
                    outlet_id=outcome.outlet_id,
                    outlet_status=outcome.outlet_status,
                    published=outcome.published,
                )
            elif outcome.kind == "rejected":
                changed = await outbox.event_rejected(
                    session, job.id, now=now, reason=outcome.reason
                )
            elif outcome.kind == "pause":
                # bot_state before outlet_event, in every transaction that takes both: the
                # same lock order everywhere cannot deadlock on PostgreSQL.
                pause = RelayPause(
                    reason=outcome.reason,
                    since=now,
                    fingerprint=self.settings.fingerprint,
                    probe_at=now + timedelta(seconds=self.settings.probe_every),
                )
                stored = await ensure_state(session, PAUSE_KEY, pause.dump(), now)
                paused_now = stored == pause.dump()  # this instance made the pause
                # Not the comment's fault: the try does not count, and the row waits (due
                # at once, but nothing is claimed while paused except the hourly probe).
                await outbox.event_retry(
                    session,
                    job.id,
                    now=now,
                    next_attempt_at=now,
                    error=outcome.reason,
                    count_attempt=False,
                )
            else:
                paused = claimed.pause or RelayPause.load(await get_state(session, PAUSE_KEY), now)
                # Time spent paused is not the comment's: it does not bring the deadline on.
                lost = now - max(paused.since, job.created_at) if paused else timedelta(0)
                if now >= job.deadline + max(lost, timedelta(0)):
                    changed = await outbox.event_expired(
                        session, job.id, now=now, error=self._expired_reason(job)
                    )
                else:
                    changed = None
                    # ±20 % jitter; a Retry-After from the outlet is a floor, never shortened.
                    delay = backoff(
                        job.attempts + 1,
                        first=self.settings.first_retry,
                        cap=self.settings.max_backoff,
                        spread=(0.8, 1.2),
                        draw=random.random(),
                    )
                    delay = max(delay, outcome.retry_after or 0.0)
                    next_at = now + timedelta(seconds=delay)
                    # Never past the deadline: one last try then, and the reader hears.
                    next_at = min(next_at, max(now, job.deadline + lost))
                    attempts = await outbox.event_retry(
                        session, job.id, now=now, next_attempt_at=next_at, error=outcome.reason
                    )
                    if attempts == STILL_TRYING_AFTER and job.comment is not None:
                        # Read afresh: the reader's confirmation may have been sent since.
                        trying = await get_comment(session, job.comment.id)
        self._count(outcome, expired=changed is not None and outcome.kind == "retry")
        log.info(
            "comment relay: webhook %s (%s, row %d) → %s%s",
            job.webhook_id,
            job.type,
            job.id,
            outcome.kind if not (changed and outcome.kind == "retry") else "expired",
            f" ({outcome.reason})" if outcome.kind != "rejected" and outcome.reason else "",
        )
        if changed is not None:
            await self._notify(changed)
        elif trying is not None:
            await self._notify(trying, still_trying=True)
        if paused_now:
            self.stats.paused = True
            log.warning("comment relay paused: the outlet answered %s", outcome.reason)
            await self._alert(_pause_alert(outcome.status))
        if claimed.probe and outcome.endpoint_works:
            await self._resume("the news site accepted a comment again", RELAY_SITE_ACCEPTS)

    def _expired_reason(self, job: EventJob) -> str:
        tried = (job.deadline - job.created_at).total_seconds()
        return reason_code(REASON_UNREACHABLE, minutes=max(1, round(tried / 60)))

    def _count(self, outcome: Outcome, *, expired: bool) -> None:
        stats = self.stats
        if outcome.kind == "delivered":
            stats.delivered += 1
        elif outcome.kind == "rejected":
            stats.rejected += 1
        elif expired:
            stats.expired += 1
        else:
            stats.retried += 1
        if outcome.kind in ("retry", "pause"):
            stats.last_error = outcome.reason
        metrics.count_comment_webhook(outcome.kind, expired=expired)

    # --- pause and resume ---

    async def is_paused(self) -> bool:
        """Whether relaying is paused for every instance (the outlet refused the endpoint or
        the secret): a comment written now waits until that is mended."""
        async with self.sessions() as session:
            return RelayPause.load(await get_state(session, PAUSE_KEY), self._clock()) is not None

    async def _resume_if_reconfigured(self) -> None:
        async with self.sessions() as session:
            pause = RelayPause.load(await get_state(session, PAUSE_KEY), self._clock())
        if pause is not None and pause.fingerprint != self.settings.fingerprint:
            await self._resume("COMMENTS_URL or COMMENTS_SECRET changed", RELAY_RECONFIGURED)

    async def _resume(self, why: str, cause: str) -> None:
        """Lift the pause (once, whichever instance gets here first) and send what waited.

        ``why`` is for the log, ``cause`` (a ``news.admin_alerts.RELAY_*`` code) for the admins.
        """
        async with writing(self.sessions) as session:
            now = self._clock()
            pause = RelayPause.load(await get_state(session, PAUSE_KEY, for_update=True), now)
            if pause is None:
                return
            await outbox.extend_deadlines(session, pause.since, now)
            await outbox.resume_paused(session, now)
            await set_state(session, PAUSE_KEY, None, now)
            waiting = (await outbox.outbox_counts(session)).get("pending", 0)
        self.stats.paused = False
        self._wake.set()
        log.warning("comment relay resumed: %s", why)
        await self._alert(AdminAlert(RELAY_RESUMED, {"cause": cause, "waiting": waiting}))

    # --- the bot side, guarded ---

    async def _notify(
        self, comment: CommentView, *, still_trying: bool = False, paused: bool = False
    ) -> None:
        if self.notifier is None:
            return
        try:
            await self.notifier.comment_changed(comment, still_trying=still_trying, paused=paused)
        except Exception:
            log.exception("comment relay: telling the reader about comment %d failed", comment.id)
        try:
            async with writing(self.sessions) as session:
                await mark_told(session, comment.id, TRYING if still_trying else comment.status)
        except Exception:  # told once more by the sweep: an edit to the same text is harmless
            log.exception("comment relay: could not note that comment %d was told", comment.id)

    async def _tell_untold(self) -> None:
        """Tell readers about verdicts whose telling died with the process that got them."""
        before = self._clock() - UNTOLD_AFTER
        async with self.sessions() as session:
            untold = await untold_verdicts(session, before)
        for comment in untold:
            log.info("comment relay: telling the reader of comment %d late", comment.id)
            await self._notify(comment)
        # Whatever the reason (an outlet down, relaying paused), a comment still on its way
        # after a while gets its ⏳ once.
        async with self.sessions() as session:
            overdue = await overdue_queued(session, self._clock() - STILL_TRYING_AFTER_TIME)
        paused = await self.is_paused() if overdue else False
        for comment in overdue:
            await self._notify(comment, still_trying=True, paused=paused)

    async def _alert(self, alert: AdminAlert) -> None:
        if self.notifier is None:
            log.warning("comment relay: no notifier to alert the admins (%s)", alert)
            return
        try:
            await self.notifier.alert_admins(alert)
        except Exception:
            log.exception("comment relay: alerting the admins failed")


def _seconds(delta: timedelta) -> float:
    return delta.total_seconds()
