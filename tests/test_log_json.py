"""LOG_FORMAT=json: one JSON object per line, with the record's context, masked like the text."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from bot.logs import configure_logging

SECRET = "sk_test_a_secret_key_long_enough_to_show_a_prefix"


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_each_record_is_one_masked_json_object(
    restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", [SECRET], "json")
    log = logging.getLogger("webhooks.stripe_webhook")
    log.warning("Stripe said %s", f"key {SECRET} refused", extra={"event_id": "evt_123"})
    try:
        raise RuntimeError(f"with {SECRET} inside")
    except RuntimeError:
        log.exception("failed", extra={"chat_id": 42, "order": "K7Q2"})
    lines = capsys.readouterr().err.splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["level"] == "WARNING" and first["logger"] == "webhooks.stripe_webhook"
    assert first["message"] == "Stripe said key sk_t…[redacted] refused"
    assert first["event_id"] == "evt_123" and "chat_id" not in first
    assert first["time"].endswith("+00:00")
    assert (second["chat_id"], second["order"]) == (42, "K7Q2")
    assert "RuntimeError" in second["exception"]
    assert SECRET not in "\n".join(lines)


def test_text_stays_the_default(restored_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", [SECRET])
    logging.getLogger("bot").info("plain")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith("INFO bot: plain")
