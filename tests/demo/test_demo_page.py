"""The demo's page in a real browser, against `checkout-bot demo` run as a command: a purchase,
the admin's console, a delayed payment that fails. Each saves a screenshot in its tmp_path."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.demo.page_steps import buy_until_pay, message_with, say, tap
from tests.demo.steps import demo_command

TIMEOUT_MS = 10_000


def test_a_buyer_buys_and_sees_the_confirmation_in_the_chat(browser: Any, tmp_path: Path) -> None:
    with demo_command(tmp_path) as address:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{address}?as=buyer-en")
        buy_until_pay(page)

        tap(page, "Pay")
        page.locator("button[data-outcome=pay]").click()

        confirmation = message_with(page, "Payment received")
        confirmation.wait_for()
        page.screenshot(path=str(tmp_path / "purchase.png"))
        assert "The Forest Hiker × 2" in confirmation.inner_text()
        assert page.locator("#orders tbody tr", has_text="paid").count() == 1


def test_the_admin_sees_the_sale_in_stats_and_downloads_the_export(
    browser: Any, tmp_path: Path
) -> None:
    with demo_command(tmp_path) as address:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{address}?as=buyer-en")
        buy_until_pay(page)
        total = re.sub(r"^Pay\s*", "", tap(page, "Pay"))
        page.locator("button[data-outcome=pay]").click()
        confirmation = message_with(page, "Payment received")
        reference = re.search(r"#(\w+)", confirmation.inner_text())
        assert reference is not None

        page.select_option("#person", "admin")
        say(page, "/stats")
        figures = message_with(page, total)
        figures.wait_for()
        say(page, "/export")
        document = page.locator(".message a.document")
        with page.expect_download() as download:
            document.click()
        csv = Path(download.value.path()).read_text()
        page.screenshot(path=str(tmp_path / "admin.png"))

        assert download.value.suggested_filename.endswith(".csv")
        assert reference.group(1) in csv


def test_a_delayed_payment_that_fails_offers_to_try_again(browser: Any, tmp_path: Path) -> None:
    with demo_command(tmp_path) as address:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{address}?as=buyer-en")
        buy_until_pay(page)
        tap(page, "Pay")
        page.locator("button[data-outcome=delayed]").click()
        message_with(page, "being processed").wait_for()

        page.locator("#orders a", has_text="Stripe page").click()
        page.locator("button[data-outcome=delayed_fails]").click()
        page.locator("#answer", has_text="failed").wait_for()
        page.locator("#back").click()

        retry = page.locator(".message .inline-button", has_text="Try again")
        retry.wait_for()
        page.screenshot(path=str(tmp_path / "delayed-failed.png"))
        assert page.locator("#orders tbody tr", has_text="failed").count() == 1
