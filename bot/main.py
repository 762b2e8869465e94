"""The process entry point: `checkout-bot` and `python -m bot`."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Callable

from bot.catalog.model import Catalog, CatalogError, load_catalog
from bot.logs import configure_logging
from bot.masked_output import mask_standard_streams
from bot.settings import CatalogSource, ConfigurationError, Settings, load_settings

# The service and the subcommands are imported when they run (below): telegram, aiohttp, stripe
# and the storage backends are most of a second of CPU, which a configuration error, told in
# one line, does not need to pay.

log = logging.getLogger("bot")

EXIT_CONFIGURATION = 2
EXIT_STARTUP = 1
GC_THRESHOLDS = (20_000, 20, 20)


def main() -> int:
    """Run until SIGINT or SIGTERM; exit 0 after a clean stop, non-zero with one line if not.
    `checkout-bot doctor` checks the settings against Telegram and Stripe instead,
    `checkout-bot demo` runs the shop on the bundled emulators, and
    `checkout-bot copy-db --to URL` copies the shop's database to PostgreSQL."""
    if sys.argv[1:2] == ["doctor"]:
        from bot.ops import doctor

        return doctor.main()
    if sys.argv[1:2] == ["demo"]:
        from bot.demo.command import run as run_demo

        return run_demo(sys.argv[2:])
    if sys.argv[1:2] == ["copy-db"]:
        from bot import copy_db

        return copy_db.main(sys.argv[2:])
    try:
        settings = load_settings()
        # A catalog kept in Stripe is read once the service starts.
        catalog = (
            load_catalog(settings.catalog_file)
            if settings.catalog_source is CatalogSource.FILE
            else None
        )
    except (ConfigurationError, CatalogError) as exc:
        print(f"checkout-bot: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    secrets = [
        settings.telegram_bot_token.get_secret_value(),
        settings.stripe_secret_key.get_secret_value(),
        settings.stripe_webhook_secret.get_secret_value(),
        *(
            [settings.telegram_webhook_secret.get_secret_value()]
            if settings.telegram_webhook_secret
            else []
        ),
        *([settings.metrics_token.get_secret_value()] if settings.metrics_token else []),
    ]
    # Every line the process writes, on either stream, log or not (the start-up error below
    # quotes aiohttp, whose message holds the URL, the token in it).
    mask_standard_streams(secrets)
    configure_logging(settings.log_level, secrets=secrets, log_format=settings.log_format.value)
    from bot.service import StartupError

    try:
        with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
            runner.run(serve(settings, catalog))
    except StartupError as exc:
        print(f"checkout-bot: {exc}", file=sys.stderr)
        return EXIT_STARTUP
    return 0


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop where it is installed (Linux, macOS); None, asyncio's own, elsewhere."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def serve(settings: Settings, catalog: Catalog | None) -> None:
    """Run the service until the process is asked to stop."""
    from bot.service import Service, StartupError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    service = Service(settings, catalog)
    # SIGHUP reloads the catalog; a failed reload keeps the old one and is logged.
    loop.add_signal_handler(signal.SIGHUP, service.catalog_reload.on_signal)
    async with service:
        # What start-up built lives as long as the process: keep the garbage collector from
        # scanning it again and again, which makes its pauses under load much shorter.
        gc.freeze()
        # At the default 700, the youngest generation is collected every few requests, and
        # each time walks the objects of every request in flight: a webhook allocates a few
        # hundred, 64 at once are that many thousands. Collected every 20,000 allocations
        # (a few MB at most), with older generations as rarely, the collector costs a few
        # percent of a webhook's instructions less (callgrind); cycles are still collected.
        gc.set_threshold(*GC_THRESHOLDS)
        stopping, failing = (
            asyncio.ensure_future(event.wait()) for event in (stop, service.failed)
        )
        await asyncio.wait([stopping, failing], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        failing.cancel()
        log.info("stopping: finishing what is in flight")
    if service.failure is not None:
        raise StartupError(service.failure)
    log.info("stopped cleanly")
