"""Logging set-up, with secrets masked in every record whatever logged them."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from bot.log_json import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# These log each request URL at INFO; Telegram's URLs hold the bot token.
CHATTY_LOGGERS = ("httpx", "httpcore", "aiohttp.access", "apscheduler")
# A mask keeps the first characters of a long secret, which tell which one it was (a bot
# token's are the bot's public id, a Stripe key's its kind) and leave plenty unknown; a
# shorter secret keeps none.
SHOWN_FROM_LENGTH = 24
SHOWN_CHARACTERS = 4


def mask(secret: str) -> str:
    """What a secret is replaced with in the log."""
    if len(secret) >= SHOWN_FROM_LENGTH:
        return secret[:SHOWN_CHARACTERS] + "…[redacted]"
    return "[redacted]"


class RedactSecrets(logging.Filter):
    """Replace each secret's text with a mask: in the message and its arguments, and in the
    traceback and stack a record carries."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Every secret, however short (the settings keep them long enough to be masked
        # without blanking ordinary words); the longest first, so one that holds another is
        # masked whole.
        self._secrets = sorted({secret for secret in secrets if secret}, key=len, reverse=True)
        # Only for its formatException, the same for every format.
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, mask(secret))
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = self.redact(text)
        if masked != text:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # The handler's formatter renders the traceback after every filter has run, and
            # reuses exc_text when it is set: render it here, so that the masked one is used.
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(level: str, secrets: Iterable[str], log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(FORMAT))
    handler.addFilter(RedactSecrets(secrets))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # The format shows none of these: spare every record the work of gathering them.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
