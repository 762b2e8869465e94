import logging

import pytest

from bot.logs import RedactSecrets

TOKEN = "123456789:TEST-fake-token"


def test_secrets_are_masked_in_messages_and_arguments(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactSecrets([TOKEN, "sk_test_fake_key_for_tests", "short"]))
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        logger.info("key sk_test_fake_key_for_tests refused")
        logger.info("a short word stays")
    first, second, third = caplog.messages
    assert TOKEN not in first and first.endswith("/bot1234…[redacted]/getMe")
    assert "sk_test_fake_key_for_tests" not in second
    assert third == "a short word stays"
