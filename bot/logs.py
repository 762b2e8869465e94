"""Logging set-up, with secrets masked in every record whatever logged them."""

from __future__ import annotations

import logging
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# These log each request URL at INFO; Telegram's URLs hold the bot token.
CHATTY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "apscheduler")


class RedactSecrets(logging.Filter):
    """Replace each secret's text with a mask, in the message and its arguments alike."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [secret for secret in secrets if len(secret) >= 8]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = text
        for secret in self._secrets:
            masked = masked.replace(secret, secret[:4] + "…[redacted]")
        if masked != text:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str, secrets: Iterable[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The format shows none of these: spare every record the work of gathering them.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
