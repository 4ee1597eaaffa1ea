"""What the jobs tell the bot's administrators, as language-free facts.

The jobs never word an alert: they say which alert it is (``code``) and its figures
(``params``), and the bot words it in each admin's own language
(``bot/admin_alert_texts.py``); ``jobs/admin_alerts.py`` watches for the trouble.
Every code below lists the params it carries; a code the bot does not know is shown as its
code and params, so nothing is ever silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

Param = str | int | float

# A feed has failed for a while. url: the feed's URL; minutes: how long it has been failing;
# polls: failed polls in a row; error: the last error ("" when none was recorded).
FEED_FAILING = "feed_failing"
# The feed works again. url.
FEED_RECOVERED = "feed_recovered"
# The Bot API refuses the bot token; pushes are paused. status: the HTTP status (401).
TOKEN_REFUSED = "token_refused"
# The Bot API accepts the token again; pushes resumed.
TOKEN_OK = "token_ok"
# Pushes are late. waiting: pushes waiting; minutes: how long the oldest has waited.
BACKLOG = "backlog"
# The push backlog has cleared.
BACKLOG_CLEARED = "backlog_cleared"
# The comment endpoint stopped accepting; comments stay queued. status: the HTTP status;
# cause: one of the RELAY_* causes below (what to fix).
RELAY_PAUSED = "relay_paused"
# The comment endpoint accepts again. cause: RELAY_SITE_ACCEPTS or RELAY_RECONFIGURED;
# waiting: comments waiting, being sent now.
RELAY_RESUMED = "relay_resumed"
# A channel of CHANNELS cannot be posted to; the rest of the bot carries on. chat: the
# channel as configured (@name or id); problem: one of the CHANNEL_* problems below.
CHANNEL_PROBLEM = "channel_problem"
# The channel can be posted to again. chat.
CHANNEL_OK = "channel_ok"
# Why a channel cannot be posted to: it does not exist (or the bot cannot see it), it is not
# a channel, the bot is not an administrator there, or it may not post messages there.
CHANNEL_MISSING = "missing"
CHANNEL_NOT_A_CHANNEL = "not_channel"
CHANNEL_NOT_ADMIN = "not_admin"
CHANNEL_CANNOT_POST = "cannot_post"

# Why relaying paused: the outlet refused the signature (COMMENTS_SECRET), the endpoint
# moved (COMMENTS_URL needs updating), or there is no such endpoint (COMMENTS_URL wrong).
RELAY_BAD_SECRET = "bad_secret"
RELAY_MOVED = "moved"
RELAY_NO_ENDPOINT = "no_endpoint"
# Why it resumed: the site accepted a comment again, or COMMENTS_URL/COMMENTS_SECRET changed.
RELAY_SITE_ACCEPTS = "site_accepts"
RELAY_RECONFIGURED = "reconfigured"


@dataclass(frozen=True, slots=True)
class AdminAlert:
    """One alert for the bot's administrators: which one, and its figures."""

    code: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __str__(self) -> str:
        """For logs: ``feed_failing minutes=61 url=https://…``."""
        figures = " ".join(f"{key}={value!r}" for key, value in sorted(self.params.items()))
        return f"{self.code} {figures}" if figures else self.code
