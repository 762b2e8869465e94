"""`checkout-bot demo [--catalog FILE] [--database URL] [--port N]`: run the demo until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import tempfile
from collections.abc import Sequence
from contextlib import AsyncExitStack
from importlib import resources
from pathlib import Path

from aiohttp import web
from pydantic import ValidationError

from bot.catalog.model import Catalog, CatalogError, load_catalog
from bot.demo.settings import LOOPBACK
from bot.demo.shop import DemoShop
from bot.demo.web import create_demo_app
from bot.logs import configure_logging
from bot.service import StartupError
from bot.settings import describe_validation_error

EXIT_CONFIGURATION = 2
EXIT_STARTUP = 1
DEFAULT_PORT = 8080


def example_catalog() -> Path:
    """The example catalog shipped in the package (the same as the repository's catalog.toml)."""
    return Path(str(resources.files("bot.demo").joinpath("example_catalog.toml")))


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="checkout-bot demo",
        description="The shop with emulated Telegram and Stripe, in your browser: no account, "
        "no network, nothing to set.",
    )
    parser.add_argument("--catalog", type=Path, help="your catalog file (default: the example)")
    parser.add_argument(
        "--database", help="sqlite:///PATH to keep the orders (default: a temporary folder)"
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"the page's port (default {DEFAULT_PORT})"
    )
    return parser.parse_args(list(argv))


def run(argv: Sequence[str]) -> int:
    """Run the demo until SIGINT or SIGTERM; non-zero with one line if it cannot start."""
    arguments = parse_arguments(argv)
    catalog_file = arguments.catalog or example_catalog()
    try:
        catalog = load_catalog(catalog_file)
    except CatalogError as exc:
        print(f"checkout-bot demo: {exc}", file=sys.stderr)
        return EXIT_CONFIGURATION
    if not 0 <= arguments.port <= 65535:
        print("checkout-bot demo: --port: expected 0 to 65535", file=sys.stderr)
        return EXIT_CONFIGURATION
    # The emulators' keys are made up, but masked like real ones all the same.
    configure_logging("INFO", secrets=[])
    with tempfile.TemporaryDirectory(prefix="checkout-bot-demo-") as folder:
        database = arguments.database or f"sqlite:///{Path(folder) / 'shop.db'}"
        try:
            asyncio.run(serve(catalog, catalog_file, database, arguments.port))
        except ValidationError as exc:
            print(f"checkout-bot demo: {describe_validation_error(exc)}", file=sys.stderr)
            return EXIT_CONFIGURATION
        except (StartupFailure, StartupError) as exc:
            print(f"checkout-bot demo: {exc}", file=sys.stderr)
            return EXIT_STARTUP
    return 0


class StartupFailure(Exception):
    """The demo cannot start; the message is the one line printed."""


async def serve(catalog: Catalog, catalog_file: Path, database_url: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncExitStack() as stack:
        shop = await stack.enter_async_context(
            DemoShop(catalog, catalog_file=catalog_file, database_url=database_url)
        )
        runner = web.AppRunner(create_demo_app(shop), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        try:
            await web.TCPSite(runner, LOOPBACK, port).start()
        except OSError as exc:
            raise StartupFailure(f"cannot listen on {LOOPBACK}:{port}: {exc.strerror}") from None
        bound = runner.addresses[0][1]
        print(f"checkout-bot demo: open http://{LOOPBACK}:{bound}/ (Ctrl-C stops it)", flush=True)
        await stop.wait()
