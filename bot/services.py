"""Building the shared pieces once, in order: database, HTTP sessions, then (given the
Telegram bot) its notifiers, pushes, digests, alerts and the comment relay, then the poller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version

import aiohttp
import telegram
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.admin_alerter import AdminAlerter
from bot.channels import ChannelWatch
from bot.comment_notify import ReaderCommentNotifier, RelayNotifier
from bot.config import Settings
from bot.hooks_server import HooksServer
from bot.logs import keep_secret
from bot.push_render import ChannelPostRenderer, PushRenderer
from bot.section_notice import RetiredSectionsNotice
from bot.sections import SectionCatalogue
from bot.site_notify import SiteNotifier
from jobs.admin_alerts import AlertMonitor
from jobs.clients.feeds import create_feed_session
from jobs.clients.telegram import BotApiClient
from jobs.comment_relay import CommentRelay, RelaySettings, load_pseudonym_key
from jobs.comments_feed import CommentsFeed, CommentsFeedSettings
from jobs.digests import DigestSender, DigestSettings
from jobs.fanout import Broadcaster, FanoutSettings
from jobs.ingestion import FeedPoller, PollSettings
from jobs.outlet_inbox import HANDLERS, InboxSettings, OutletInbox
from jobs.published_stories import PublishedSettings, PublishedStories
from jobs.retired_sections import RetiredSectionNotices
from jobs.websub import WebSubCallbacks, WebSubSettings, WebSubSubscriber
from news.clock import utcnow
from news.sections import category_sections
from storage import feeds as feed_store
from storage.engine import SessionFactory, create_engine, create_session_factory, writing
from storage.feeds import FeedView
from storage.migrate import upgrade_database

# Seconds one POST to the outlet may take; a slower answer is retried (same webhook-id).
RELAY_TIMEOUT = 10.0


def newsbot_version() -> str:
    """The installed package version."""
    try:
        return version("newsbot")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def user_agent() -> str:
    """What feeds see in their logs: who is polling them and where to find out more."""
    return f"newsbot/{newsbot_version()} (Telegram news bot; +https://github.com/newsbot/newsbot)"


@dataclass(slots=True)
class Services:
    """The long-lived objects every command shares; built once, closed once. The optional
    ones are off: the pushes, notifiers and alerts without the Telegram bot (the CLI's
    commands other than ``run``), the relay without COMMENTS_URL."""

    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    feed_http: aiohttp.ClientSession
    poller: FeedPoller
    feeds: list[FeedView]
    broadcaster: Broadcaster | None = None
    renderer: PushRenderer | None = None
    digests: DigestSender | None = None
    relay: CommentRelay | None = None  # None without COMMENTS_URL: nothing goes to the outlet
    # The offered sections and their names in each language (FEEDS, SECTIONS, SECTION_NAMES).
    sections: SectionCatalogue = field(default_factory=SectionCatalogue)
    # Tells chats once that sections they follow are no longer offered (with pushes only).
    notices: RetiredSectionNotices | None = None
    notifier: ReaderCommentNotifier | None = None  # tells readers about their comments
    alerter: AdminAlerter | None = None  # tells the admins what went wrong
    alerts: AlertMonitor | None = None  # watches for trouble worth an alert
    # The outlet's events (HOOKS_PORT, COMMENTS_FEED_URL): the inbox processes what the
    # listener accepts and the comments feed brings.
    outlet_inbox: OutletInbox | None = None
    comments_feed: CommentsFeed | None = None
    hooks_server: HooksServer | None = None
    # The outlet's channels (CHANNELS, with pushes): checked, posted to, their discussions.
    channels: ChannelWatch | None = None
    # WebSub (PUBLIC_URL): subscribes at the hubs feeds advertise (the leader's).
    websub: WebSubSubscriber | None = None


def poll_settings(settings: Settings) -> PollSettings:
    """The ingestion knobs taken from the settings."""
    return PollSettings(
        interval=settings.poll_interval,
        max_backoff=settings.poll_max_backoff,
        push_max_age=settings.push_max_age,
        fetch_timeout=settings.fetch_timeout,
        max_bytes=settings.fetch_max_bytes,
        breaking_markers=settings.breaking_markers,
        category_sections=category_sections(settings.sections),
        max_items=settings.feed_max_items,
        pushed_interval=settings.websub_poll_interval if settings.public_url else None,
    )


def published_settings(settings: Settings, catalogue: SectionCatalogue) -> PublishedSettings:
    """How the outlet's story.published events are read, from the settings."""
    return PublishedSettings(
        default_edition=settings.default_edition,
        push_max_age=settings.push_max_age,
        breaking_markers=settings.breaking_markers,
        category_sections=category_sections(settings.sections),
        offered=frozenset(catalogue.offered),
    )


def relay_settings(settings: Settings) -> RelaySettings:
    """The comment relay's knobs taken from the settings (COMMENTS_URL must be set)."""
    assert settings.comments_url is not None
    return RelaySettings(
        url=settings.comments_url,
        secret=settings.comments_key,
        timeout=RELAY_TIMEOUT,
        # A POST cannot outlive its timeout, so a row claimed by an instance that died is
        # sent again (same webhook-id) by another one soon after.
        lease=timedelta(seconds=RELAY_TIMEOUT + 5),
    )


def create_outlet_session() -> aiohttp.ClientSession:
    """The one HTTP session for the outlet's comment endpoint."""
    return aiohttp.ClientSession(
        headers={"User-Agent": user_agent()},
        timeout=aiohttp.ClientTimeout(total=RELAY_TIMEOUT),
        # A handful of POSTs at a time (RelaySettings.concurrency), to one host.
        connector=aiohttp.TCPConnector(limit=8),
    )


def fanout_settings(settings: Settings) -> FanoutSettings:
    """The push knobs taken from the settings."""
    return FanoutSettings(
        send_rate=settings.send_rate,
        paid_broadcast=settings.paid_broadcast,
        push_images=settings.push_images,
        default_timezone=settings.default_timezone,
        default_edition=settings.default_edition,
        comment_window=timedelta(days=settings.comment_window_days),
        push_max_age=timedelta(seconds=settings.push_max_age),
        # Each send holds a worker for a round trip (about 0.1 s to Telegram): enough workers
        # for the rate, without flooding a slow server.
        max_in_flight=max(4, min(200, settings.send_rate // 5)),
    )


def _channel_wording(
    settings: Settings, bot: telegram.Bot, sections: SectionCatalogue
) -> ChannelPostRenderer:
    """How a story reads as a post in the outlet's channels."""
    return ChannelPostRenderer(
        lambda: bot.username,
        settings.default_timezone,
        default_locale=settings.default_edition,
        comment_button=settings.comments_enabled,
        discussion_note=settings.comments_enabled and settings.channel_comments,
        sections=sections,
    )


def _outlet_events(
    settings: Settings,
    sessions: SessionFactory,
    feed_http: aiohttp.ClientSession,
    notifier: SiteNotifier,
    stories: PublishedStories,
    websub: WebSubCallbacks | None,
) -> tuple[OutletInbox | None, CommentsFeed | None, HooksServer | None]:
    """The outlet's events, when it sends them (HOOKS_PORT) or publishes a comments feed:
    the inbox that processes them (comments, and stories the outlet published), the feed's
    poller and the listener (also the WebSub callback with PUBLIC_URL)."""
    if settings.hooks_port is None and settings.comments_feed_url is None:
        return None, None, None
    inbox = OutletInbox(
        sessions,
        InboxSettings(default_timezone=settings.default_timezone),
        notifier,
        handlers={**HANDLERS, **stories.handlers()},
        prepare=stories.preparations(),
        checks=stories.checks(),
    )
    feed = None
    if settings.comments_feed_url:
        feed = CommentsFeed(
            sessions,
            feed_http,  # the story feeds' session: the same address guard and size cap
            CommentsFeedSettings(
                url=settings.comments_feed_url,
                interval=settings.poll_interval,
                timeout=settings.fetch_timeout,
                max_bytes=settings.fetch_max_bytes,
            ),
            inbox,
        )
    server = None
    if settings.hooks_port is not None and settings.outlet_hooks_key is not None:
        server = HooksServer(
            inbox,
            settings.outlet_hooks_key,
            listen=settings.hooks_listen,
            port=settings.hooks_port,
            websub=websub,
            max_pushed=settings.fetch_max_bytes,
        )
    return inbox, feed, server


@asynccontextmanager
async def open_services(
    settings: Settings, *, bot: telegram.Bot | None = None
) -> AsyncIterator[Services]:
    """Upgrade the database, register the configured feeds, and yield the shared objects.

    With the Telegram ``bot`` (``newsbot run``), new stories are handed to a Broadcaster that
    sends them over its own keep-alive HTTP session to the Bot API, readers and admins are
    told through the bot, and with COMMENTS_URL readers' comments go to the outlet through a
    CommentRelay. Nothing here starts: ``jobs.registry`` lists what runs in the background.
    """
    engine = create_engine(settings.database_url)
    feed_http = create_feed_session(user_agent(), concurrency=settings.fetch_concurrency)
    bot_http: aiohttp.ClientSession | None = None
    outlet_http: aiohttp.ClientSession | None = None
    try:
        await upgrade_database(engine)
        sessions = create_session_factory(engine)
        async with writing(sessions) as session:
            feeds = await feed_store.register_feeds(
                session,
                [
                    (f.url, f.section, f.edition or settings.default_edition)
                    for f in settings.feeds
                ],
                utcnow(),
            )
        broadcaster = renderer = digests = notices = notifier = alerter = alerts = None
        channels = None
        catalogue = SectionCatalogue.from_settings(settings)
        if bot is not None and settings.token:
            notifier = ReaderCommentNotifier(bot, settings, sessions)
            alerter = AdminAlerter(bot, settings, sessions)
            fanout = fanout_settings(settings)
            bot_http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=fanout.max_in_flight + 4)
            )
            client = BotApiClient(bot_http, settings.telegram_api_url, settings.token)
            renderer = PushRenderer(
                settings.default_timezone,
                comment_button=settings.comments_enabled,
                default_locale=settings.default_edition,
                sections=catalogue,
            )
            if settings.channels:
                channels = ChannelWatch(bot, settings.channels, sessions, alerter.alert_admins)
            broadcaster = Broadcaster(
                sessions,
                client,
                renderer,
                fanout,
                channels=channels.targets(_channel_wording(settings, bot, catalogue))
                if channels is not None
                else None,
            )
            digests = DigestSender(
                sessions,
                client,
                renderer,
                broadcaster.limiter,  # one limiter: Telegram counts digests with pushes
                DigestSettings(
                    default_timezone=settings.default_timezone,
                    daily_hour=settings.digest_hour,
                    paid_broadcast=settings.paid_broadcast,
                    default_edition=settings.default_edition,
                ),
            )
            notices = RetiredSectionNotices(
                sessions,
                client,
                RetiredSectionsNotice(catalogue, settings.default_edition),
                broadcaster.limiter,
                catalogue.offered,
                paid_broadcast=settings.paid_broadcast,
            )
            pushing = broadcaster
            alerts = AlertMonitor(
                sessions,
                alerter.alert_admins,
                token_refused=lambda: pushing.stats.unauthorized,
            )
        relay = None
        if notifier is not None and alerter is not None and settings.comments_url:
            key = settings.pseudonym_key.get_secret_value() if settings.pseudonym_key else None
            pseudonym_key = await load_pseudonym_key(sessions, key)
            # Generated once and kept in the database: only known now, so logs learn it now.
            keep_secret(pseudonym_key)
            outlet_http = create_outlet_session()
            relay = CommentRelay(
                sessions,
                outlet_http,
                relay_settings(settings),
                pseudonym_key,
                RelayNotifier(notifier, alerter),
            )
        websub = None
        if bot is not None and settings.public_url:
            websub = WebSubSubscriber(
                sessions,
                feed_http,  # hubs are named by feeds: the same address guard
                feeds,
                WebSubSettings(
                    public_url=settings.public_url,
                    lease_seconds=int(settings.websub_lease),
                    timeout=settings.fetch_timeout,
                ),
            )
        poller = FeedPoller(
            sessions,
            feed_http,
            poll_settings(settings),
            handoff=broadcaster.handoff if broadcaster else None,
            concurrency=settings.fetch_concurrency,
            hubs_changed=websub.wake if websub else None,
        )
        outlet_events: tuple[OutletInbox | None, CommentsFeed | None, HooksServer | None] = (
            _outlet_events(
                settings,
                sessions,
                feed_http,
                SiteNotifier(bot, settings, sessions, notifier),
                PublishedStories(
                    poller,
                    feeds,
                    published_settings(settings, catalogue),
                    wake_fanout=broadcaster.wake if broadcaster else None,
                ),
                WebSubCallbacks(sessions, poller, feeds) if websub else None,
            )
            if bot is not None and notifier is not None
            else (None, None, None)
        )
        yield Services(
            settings,
            engine,
            sessions,
            feed_http,
            poller,
            feeds,
            broadcaster,
            renderer,
            digests,
            relay,
            catalogue,
            notices,
            notifier,
            alerter,
            alerts,
            *outlet_events,
            channels,
            websub,
        )
    finally:
        await feed_http.close()
        if bot_http is not None:
            await bot_http.close()
        if outlet_http is not None:
            await outlet_http.close()
        await engine.dispose()
