"""The running shop: the Telegram Application, the web server, the store and the outbox sender,
started and stopped together in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Self

import stripe
from aiohttp import web
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import Application, ApplicationBuilder, ExtBot, Updater
from telegram.request import BaseRequest

from bot.admin.catalog_reload import FOLLOW_SECONDS, CatalogReload
from bot.admin.console import AdminHandlers
from bot.buyer.cart import Carts
from bot.buyer.cart_handlers import CartHandlers
from bot.buyer.handlers import ShopHandlers
from bot.buyer.language import BuyerLanguages
from bot.buyer.purchase import CheckoutLinks, Purchases
from bot.buyer.stars import StarsCounter
from bot.buyer.storefront import Storefront
from bot.buyer.tap_guard import TapGuard
from bot.catalog.from_stripe import stripe_loader
from bot.catalog.model import Catalog, CatalogError, LiveCatalog, file_loader
from bot.menus import CommandMenus
from bot.ops.api_clients import TimedStripeClient, TimedTelegramRequest
from bot.ops.guardian import GUARD_LIMITS, Guardian, GuardLimits
from bot.ops.health_command import HealthCommand
from bot.ops.metrics import Metrics
from bot.ops.metrics_http import MetricsEndpoint
from bot.ops.watch import Watch
from bot.outbox.budget import SharedBudget
from bot.outbox.goods import Goods
from bot.outbox.notices import Notices
from bot.outbox.pace import SECONDS_PER_CHAT, Pace
from bot.outbox.sender import RETRY_DELAYS, OutboxSender, RetryDelays
from bot.settings import CatalogSource, Settings, TelegramMode
from storage import Change, Storage, StorageError, open_storage
from webhooks.app import create_web_app
from webhooks.fulfilment import Fulfilment
from webhooks.reconciliation import Reconciler
from webhooks.refunds import RefundLedger
from webhooks.server_limits import HTTP_LIMITS, CappedSite, HttpLimits
from webhooks.stars import StarPayments
from webhooks.stripe_webhook import StripeWebhook
from webhooks.telegram_webhook import TelegramWebhook

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "callback_query", "pre_checkout_query"]
STRIPE_NETWORK_RETRIES = 2
# A buyer is waiting on each request; stripe-python's default is 80 s.
STRIPE_TIMEOUT_SECONDS = 15
HTTP_SHUTDOWN_SECONDS = 10.0
# Long enough for a client that is still sending to read our early answer before the close.
LINGER_SECONDS = 1.0
# Updates handled at once: one buyer's wait on Stripe must not hold up the others.
CONCURRENT_UPDATES = 64

TelegramApp = Application[Any, Any, Any, Any, Any, Any]

SECOND_POLLER = (
    "another copy of this bot is polling Telegram with the same token (getUpdates answered"
    " 409 Conflict): stop it, or run every copy with TELEGRAM_MODE=webhook behind a load"
    " balancer to run several replicas"
)
TOKEN_REFUSED_WHILE_POLLING = (
    "Telegram refused TELEGRAM_BOT_TOKEN while polling (getUpdates answered 401"
    " Unauthorized: was the token revoked in @BotFather?): no update can come any more, so"
    " the bot stops; set the new token and start it again (Stripe retries its events meanwhile)"
)


class StartupError(Exception):
    """The shop cannot start; the message is the one line the owner reads."""


class Service:
    """Everything the process runs. `async with Service(settings, catalog)` runs it.

    With CATALOG_SOURCE=stripe there is no catalog to pass: start-up reads it from Stripe.

    `clock` (Unix seconds, read by the watch and the guardian, whose memory of what it told
    the replicas share), `wall_clock` (Unix seconds, the guardian's for the outbox's age, the
    buyers' tap guard's, and the store's for how long orders hold their units),
    `outbox_delays`, `guard_limits`, `http_limits`, `catalog_follow_seconds` (how often it
    looks whether another process reloaded the catalog; a minute at least where the store
    tells it of a reload) and `seconds_per_chat` are the bot's own unless a test passes
    others: shorter retries, a clock it moves itself, deadlines it can wait out, a chat's
    messages closer together than Telegram's one a second (for tests whose emulator enforces
    no flood limits).

    `failed` is set when the service can no longer run (another copy polls with the same
    token); `failure` then says why, in one line."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog | None = None,
        *,
        clock: Callable[[], float] = time.time,
        outbox_delays: RetryDelays = RETRY_DELAYS,
        wall_clock: Callable[[], float] = time.time,
        guard_limits: GuardLimits = GUARD_LIMITS,
        http_limits: HttpLimits = HTTP_LIMITS,
        catalog_follow_seconds: float = FOLLOW_SECONDS,
        seconds_per_chat: float = SECONDS_PER_CHAT,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._wall_clock = wall_clock
        self._guard_limits = guard_limits
        self.guardian: Guardian | None = None
        self._outbox_delays = outbox_delays
        self._http_limits = http_limits
        self._seconds_per_chat = seconds_per_chat
        self.storage: Storage = open_storage(
            settings.database_url, pool_size=settings.database_pool_size, clock=wall_clock
        )
        # This service's own metrics, and the facts its guardian judges.
        self.metrics = Metrics()
        self.watch = Watch(self.metrics, clock=clock)
        # Made here, as the catalog may be read through it before anything else starts; its
        # HTTP session opens on first use.
        self._stripe_http = TimedStripeClient(
            self.watch.stripe_call, timeout=STRIPE_TIMEOUT_SECONDS
        )
        self.stripe_client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base_url},
            http_client=self._stripe_http,
            max_network_retries=STRIPE_NETWORK_RETRIES,
        )
        self.live_catalog = LiveCatalog(catalog, self._catalog_loader(), self.storage)
        self.catalog_reload = CatalogReload(
            self.live_catalog, settings.admin_ids, follow_seconds=catalog_follow_seconds
        )
        # Kept here so that they are closed even when Telegram refuses to initialise.
        self._telegram_requests = (
            TimedTelegramRequest(self.watch.telegram_call),
            TimedTelegramRequest(self._polling_call, connections=1),
        )
        # Whether a getUpdates was ever answered: a 409 Conflict before that means another
        # copy was polling first, and this one is the second.
        self._polled = False
        self.failed = asyncio.Event()
        self.failure: str | None = None
        self.application = build_application(settings, self.storage, *self._telegram_requests)
        self._stack = AsyncExitStack()
        self.http_port = 0
        # Every part started (GET /readyz); false again from the moment stop() begins.
        self.ready = False

    def _catalog_loader(self) -> Callable[[], Awaitable[Catalog]]:
        settings = self.settings
        if settings.catalog_source is CatalogSource.STRIPE:
            assert settings.shop_name is not None
            return stripe_loader(
                self.stripe_client,
                shop_name=settings.shop_name,
                api_base_url=settings.stripe_api_base_url,
            )
        return file_loader(settings.catalog_file)

    @property
    def http_url(self) -> str:
        """Where the web server listens, as a loopback URL (for tests and the health check)."""
        return f"http://127.0.0.1:{self.http_port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start every part; what started is stopped again if a later part fails."""
        try:
            await self._start_parts()
        except BaseException:
            await self._stack.aclose()
            raise

    async def stop(self) -> None:
        """Stop taking updates and events, finish what is in flight, close the store."""
        self.ready = False  # balancers send no more work while it winds down
        await self._stack.aclose()

    async def _start_parts(self) -> None:
        settings, stack, application = self.settings, self._stack, self.application
        try:
            await self.storage.open()
        except StorageError as exc:
            raise StartupError(str(exc)) from None
        stack.push_async_callback(self.storage.close)
        stack.push_async_callback(self._stripe_http.close_async)
        try:
            await self.live_catalog.start()
        except CatalogError as exc:
            raise StartupError(str(exc)) from None
        # On PostgreSQL the store tells of another replica's reload, and of its queued
        # messages (LISTEN/NOTIFY): the followers then look rarely, as a safety net.
        self.catalog_reload.start(
            told=self.storage.on_change(Change.CATALOG, self.catalog_reload.changed)
        )
        stack.push_async_callback(self.catalog_reload.stop)

        for request in self._telegram_requests:
            stack.push_async_callback(request.shutdown)
        await _initialize_telegram(application, settings)
        stack.push_async_callback(application.shutdown)

        stripe_client = self.stripe_client
        sender = OutboxSender(
            self.storage,
            outbox_bot(settings, *self._telegram_requests),
            Notices(self.storage, Goods(self.storage, application.bot, self.live_catalog)).compose,
            # The slots of the answers' rate limiter (build_application), kept in the store:
            # on PostgreSQL, one budget for every replica.
            pace=Pace(self.storage, settings.telegram_messages_per_second, self._seconds_per_chat),
            delays=self._outbox_delays,
            on_result=self.watch.outbox_send,
            lease=settings.outbox_lease_seconds,
        )
        sender.start(told=self.storage.on_change(Change.OUTBOX, sender.notify))
        stack.push_async_callback(sender.stop)

        links = CheckoutLinks(
            stripe_client,
            bot_username=application.bot.username,
            instance_id=self.storage.instance_id,
            expires_minutes=settings.checkout_expires_minutes,
        )
        fulfilment = Fulfilment(self.storage, admin_ids=settings.admin_ids, on_queued=sender.notify)
        reconciler = Reconciler(
            self.storage,
            stripe_client,
            fulfilment,
            watch=self.watch,
            admin_ids=settings.admin_ids,
            on_queued=sender.notify,
        )
        star_payments = StarPayments(
            self.storage, admin_ids=settings.admin_ids, on_queued=sender.notify
        )
        menus = CommandMenus(settings.admin_ids, self.storage)
        menus.register(application)
        admin = AdminHandlers(
            storage=self.storage,
            settings=settings,
            stripe_client=stripe_client,
            reconciler=reconciler,
            star_payments=star_payments,
        )
        admin.register(application)
        self.catalog_reload.register(application)
        self.guardian = Guardian(
            self.storage,
            self.watch,
            admin_ids=settings.admin_ids,
            database_path=settings.database_path,
            on_queued=sender.notify,
            limits=self._guard_limits,
            clock=self._clock,
            wall_clock=self._wall_clock,
        )
        HealthCommand(self.guardian, settings.admin_ids).register(application)
        buyers = BuyerLanguages(self.storage, menus)
        purchases = Purchases(self.storage, links, reconciler.check)
        tap_guard = TapGuard(self.storage, clock=self._wall_clock)
        shop = ShopHandlers(
            catalog=self.live_catalog,
            storage=self.storage,
            purchases=purchases,
            expires_minutes=settings.checkout_expires_minutes,
            check_at_stripe=reconciler.check,
            tap_guard=tap_guard,
            buyers=buyers,
            storefront=Storefront(catalog=self.live_catalog, storage=self.storage, buyers=buyers),
            support_contact=settings.support_contact,
            stars=StarsCounter(
                catalog=self.live_catalog,
                storage=self.storage,
                ledger=star_payments,
                buyers=buyers,
                tap_guard=tap_guard,
                support_contact=settings.support_contact,
                on_queued=sender.notify,
            ),
        )
        shop.register(application)
        CartHandlers(
            catalog=self.live_catalog,
            carts=Carts(self.storage, self.live_catalog),
            purchases=purchases,
            buyers=buyers,
            tap_guard=tap_guard,
            carry_out=shop.carry_out,
            stars=shop.stars,
        ).register(application)
        # Admin commands answer their own failures (bot/admin/access.py); whatever else fails
        # was a buyer's update, and the buyer hears of it in their language.
        application.add_error_handler(shop.on_error)

        await application.start()
        stack.push_async_callback(application.stop)

        refunds = RefundLedger(
            self.storage,
            admin_ids=settings.admin_ids,
            payment_intent_metadata=reconciler.payment_intent_metadata,
            on_queued=sender.notify,
        )
        await self._start_web_server(fulfilment, refunds)
        await reconciler.check_access()
        # Refunds confirmed before the process stopped, whose answer from Stripe never came.
        await admin.refunds.resume(application.bot)
        reconciler.start()
        stack.push_async_callback(reconciler.stop)
        self.guardian.start()
        stack.push_async_callback(self.guardian.stop)

        if settings.telegram_mode is TelegramMode.POLLING:
            assert application.updater is not None
            await self._refuse_a_webhook_in_use()
            await application.updater.start_polling(
                allowed_updates=ALLOWED_UPDATES, error_callback=self._polling_failed
            )
            stack.push_async_callback(_stop_polling, application.updater)
        else:
            await self._set_webhook()
        await menus.publish(application.bot)
        self.ready = True
        log.info(
            "checkout-bot is up as @%s: %s mode, web server on port %s",
            application.bot.username,
            settings.telegram_mode.value,
            self.http_port,
        )

    async def _refuse_a_webhook_in_use(self) -> None:
        """Polling starts by deleting the bot's webhook (python-telegram-bot does): copies
        running in webhook mode would stop getting updates, silently. Refuse instead."""
        try:
            info = await self.application.bot.get_webhook_info()
        except TelegramError as exc:
            raise StartupError(f"Telegram did not say whether a webhook is set: {exc}") from None
        if info.url:
            raise StartupError(
                f"Telegram has a webhook set for this bot ({info.url}): copies in webhook mode"
                " would stop getting updates if this one polled. Run it with"
                " TELEGRAM_MODE=webhook too, or, if no copy uses the webhook any more, delete it"
                " first (the Bot API's deleteWebhook)"
            )

    def _polling_call(self, method: str, status: int | None, seconds: float) -> None:
        self.watch.telegram_call(method, status, seconds)
        if method != "getUpdates":
            return
        if status == 200:
            self._polled = True
        elif status == 401:
            # python-telegram-bot ends its polling loop for good on a refused token: left
            # running, the bot would answer nobody. Stopping says so, once, to the supervisor.
            self.failure = TOKEN_REFUSED_WHILE_POLLING
            self.failed.set()

    def _polling_failed(self, error: TelegramError) -> None:
        """A getUpdates that failed (python-telegram-bot tries again by itself)."""
        if not isinstance(error, Conflict):
            # What python-telegram-bot's own callback logs, traceback included.
            log.error("Exception happened while polling for updates.", exc_info=error)
        elif not self._polled:
            # Refused at start-up: the copy that was polling first keeps its place.
            self.failure = SECOND_POLLER
            self.failed.set()
        else:
            log.error("Telegram: %s; %s", error, SECOND_POLLER)

    async def _start_web_server(self, fulfilment: Fulfilment, refunds: RefundLedger) -> None:
        settings, limits = self.settings, self._http_limits
        telegram_webhook = None
        if settings.telegram_mode is TelegramMode.WEBHOOK:
            assert settings.telegram_webhook_secret is not None
            telegram_webhook = TelegramWebhook(
                self.application,
                settings.telegram_webhook_secret.get_secret_value(),
                self.storage,
                clock=self._wall_clock,
            )
        web_app = create_web_app(
            storage=self.storage,
            stripe_webhook=StripeWebhook(
                settings.stripe_webhook_secret.get_secret_value(), fulfilment, refunds, self.watch
            ),
            telegram_webhook=telegram_webhook,
            body_seconds=limits.body_seconds,
            is_ready=lambda: self.ready,
        )
        if settings.metrics_token is not None:
            token = settings.metrics_token.get_secret_value()
            endpoint = MetricsEndpoint(self.metrics, self.storage, token)
            web_app.router.add_get("/metrics", endpoint.handle)
        runner = web.AppRunner(
            web_app,
            shutdown_timeout=HTTP_SHUTDOWN_SECONDS,
            access_log=None,
            # aiohttp's idle timer runs from a connection's start and from each response until
            # the next request's headers are in, however slowly bytes trickle: a header deadline.
            keepalive_timeout=limits.header_seconds,
            # After an answer sent before the whole body came (a 408, a 413), aiohttp reads and
            # drops what the client still sends for up to 10 s by default: a slow client's
            # connection would outlive its deadline by that much.
            lingering_time=LINGER_SECONDS,
        )
        await runner.setup()
        self._stack.push_async_callback(runner.cleanup)
        site = CappedSite(runner, settings.http_host, settings.http_port, limits.connection_cap())
        try:
            await site.start()
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {settings.http_host}:{settings.http_port}: {exc.strerror}"
            ) from None
        self.http_port = runner.addresses[0][1]

    async def _set_webhook(self) -> None:
        settings = self.settings
        assert settings.public_base_url is not None and settings.telegram_webhook_secret
        url = settings.public_base_url.rstrip("/") + "/telegram/webhook"
        try:
            await self.application.bot.set_webhook(
                url,
                secret_token=settings.telegram_webhook_secret.get_secret_value(),
                allowed_updates=ALLOWED_UPDATES,
            )
        except TelegramError as exc:
            raise StartupError(f"Telegram refused the webhook {url}: {exc}") from None


def build_application(
    settings: Settings, storage: Storage, requests: BaseRequest, get_updates_requests: BaseRequest
) -> TelegramApp:
    """python-telegram-bot's Application, pointed at the configured Bot API server."""
    base_url = settings.telegram_api_base_url
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(base_url)
        .base_file_url(_file_url_for(base_url))
        # One budget for everything the bot sends, answers and confirmations alike: the answers
        # take their send slots where the outbox takes its own, so that a flash sale queues
        # instead of running into Telegram's 429s; a 429 that comes anyway is waited out.
        .rate_limiter(SharedBudget(storage, settings.telegram_messages_per_second))
        .concurrent_updates(CONCURRENT_UPDATES)
        .request(requests)
        .get_updates_request(get_updates_requests)
    )
    if settings.telegram_mode is TelegramMode.WEBHOOK:
        builder = builder.updater(None)
    return builder.build()


def outbox_bot(
    settings: Settings, requests: BaseRequest, get_updates_requests: BaseRequest
) -> ExtBot[None]:
    """The application's bot without its rate limiter, on the same connections: the outbox
    takes each message's slot itself (bot/outbox/pace.py), and must not take two."""
    base_url = settings.telegram_api_base_url
    return ExtBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=base_url,
        base_file_url=_file_url_for(base_url),
        request=requests,
        get_updates_request=get_updates_requests,
    )


async def _stop_polling(updater: Updater) -> None:
    """Stop polling; a loop that a refused token ended raises that again here, already told."""
    with contextlib.suppress(InvalidToken):
        await updater.stop()


def _file_url_for(base_url: str) -> str:
    """The Bot API's file URL beside its method URL: …/bot → …/file/bot."""
    if base_url.endswith("/bot"):
        return base_url.removesuffix("bot") + "file/bot"
    return base_url.rstrip("/") + "/file/bot"


async def _initialize_telegram(application: TelegramApp, settings: Settings) -> None:
    try:
        await application.initialize()
    except InvalidToken:
        raise StartupError(
            "TELEGRAM_BOT_TOKEN was refused by Telegram (check @BotFather)"
        ) from None
    except TelegramError as exc:
        raise StartupError(
            f"cannot reach the Telegram Bot API at {settings.telegram_api_base_url}: {exc}"
        ) from None
