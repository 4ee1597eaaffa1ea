"""Updates and webhooks: getUpdates long polling, setWebhook and delivery to the webhook."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from typing import Any

import aiohttp

from tests.fake_bot_api.core import (
    ALL_UPDATE_TYPES,
    DEFAULT_ALLOWED_UPDATES,
    Described,
    FakeBotApiCore,
    Webhook,
)
from tests.fake_bot_api.errors import ApiError, bad_request
from tests.fake_bot_api.params import Params

__all__ = ["UpdatesMixin"]

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class UpdatesMixin(FakeBotApiCore):
    """The update queue's way out: ``getUpdates``, or POSTs to the webhook."""

    # --- reading back ---------------------------------------------------------------------

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates queued and not yet confirmed (getUpdates) or delivered (webhook)."""
        return list(self._updates.values())

    # --- getUpdates -----------------------------------------------------------------------

    def _set_allowed_updates(self, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        chosen = frozenset(str(kind) for kind in allowed) & ALL_UPDATE_TYPES
        self._allowed_updates = chosen or DEFAULT_ALLOWED_UPDATES

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        if offset < 0:
            keep = -offset
            while len(updates) > keep:
                updates.popitem(last=False)
            return
        while updates:
            first = next(iter(updates))
            if first >= offset:
                break
            del updates[first]

    def _batch(self, limit: int) -> list[dict[str, Any]]:
        return list(itertools.islice(self._updates.values(), limit))

    async def _get_updates(self, params: Params) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        # Only one getUpdates may be waiting: the older one is terminated with 409.
        self._wake_poller("conflict")
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(int(params.get("timeout") or 0), 0)
        self._set_allowed_updates(params.get("allowed_updates"))
        if offset:
            self._confirm(offset)
        batch = self._batch(limit)
        if batch or not timeout:
            return batch
        waiter: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._poll_waiter = waiter
        try:
            async with asyncio.timeout(timeout):
                reason = await waiter
        except TimeoutError:
            reason = "timeout"
        finally:
            if self._poll_waiter is waiter:
                self._poll_waiter = None
        if reason == "conflict":
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running",
            )
        if reason == "webhook":
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        return self._batch(limit)

    # --- webhook --------------------------------------------------------------------------

    async def _set_webhook(self, params: Params) -> Any:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params)
        if not url.lower().startswith(("https://", "http://")):
            # Telegram demands HTTPS; the fake also takes http:// so tests can use loopback.
            raise bad_request("bad webhook: HTTPS url must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.fullmatch(str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        max_connections = int(params.get("max_connections") or 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        self._set_allowed_updates(params.get("allowed_updates"))
        if params.get("drop_pending_updates"):
            self._updates.clear()
        self._webhook = Webhook(
            url=url,
            secret_token=str(secret) if secret else None,
            max_connections=max_connections,
            slots=asyncio.Semaphore(max_connections),
            ip_address=params.get("ip_address"),
        )
        self._webhook_error = None
        self._wake_poller("webhook")
        if self._webhook_event is not None:
            self._webhook_event.set()
        return Described(True, "Webhook was set")

    async def _delete_webhook(self, params: Params) -> Any:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        was_set = self._webhook is not None
        self._webhook = None
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    async def _get_webhook_info(self, params: Params) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._allowed_updates != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook.ip_address:
                info["ip_address"] = self._webhook.ip_address
            if self._webhook_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _webhook_loop(self) -> None:
        """Push queued updates to the webhook, at most ``max_connections`` at a time."""
        assert self._webhook_event is not None
        while True:
            await self._webhook_event.wait()
            self._webhook_event.clear()
            hook = self._webhook
            if hook is None:
                continue
            for update_id in list(self._updates):
                if update_id in self._in_flight:
                    continue
                await hook.slots.acquire()
                if self._webhook is not hook or update_id not in self._updates:
                    hook.slots.release()
                    continue
                self._in_flight.add(update_id)
                self._spawn(self._deliver(hook, update_id))

    async def _deliver(self, hook: Webhook, update_id: int) -> None:
        try:
            for attempt in range(self.webhook_attempts):
                update = self._updates.get(update_id)
                if update is None or self._webhook is not hook:
                    return
                error = await self._post(hook, update)
                if error is None:
                    self._updates.pop(update_id, None)
                    self.stats.webhook_deliveries += 1
                    self._notify()
                    return
                self.stats.webhook_failures += 1
                self._webhook_error = (int(time.time()), error)
                if attempt + 1 < self.webhook_attempts:
                    await asyncio.sleep(self.webhook_retry_delay * 2**attempt)
            dropped = self._updates.pop(update_id, None)
            if dropped is not None:
                self.webhook_dropped.append(dropped)
            self._notify()
        finally:
            self._in_flight.discard(update_id)
            hook.slots.release()
            if self._updates and self._webhook is hook and self._webhook_event is not None:
                self._webhook_event.set()

    async def _post(self, hook: Webhook, update: dict[str, Any]) -> str | None:
        """POST one update; ``None`` on a 2xx answer, else Telegram's last_error_message."""
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        try:
            async with self._session.post(
                hook.url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectionError:
            return "Connection refused"
        except aiohttp.ClientError as exc:
            return f"Webhook delivery failed: {exc}"
