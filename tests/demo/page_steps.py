"""A person's steps on the demo's page, for the browser tests: write, tap, find a message."""

from __future__ import annotations

from typing import Any


def say(page: Any, text: str) -> None:
    page.fill("#composer-text", text)
    page.click("#composer-send")


def message_with(page: Any, text: str) -> Any:
    """The latest chat message holding `text` (waited for by the caller's next action)."""
    return page.locator(".message", has_text=text).last


def tap(page: Any, label: str) -> str:
    """Tap the latest inline button whose label holds `label` once it shows; its label."""
    button = page.locator(".message .inline-button", has_text=label).last
    text: str = button.inner_text()
    button.click()
    return text


def buy_until_pay(page: Any) -> None:
    """/start, Tours, The Forest Hiker, + (two), Buy: the Pay button is in the chat."""
    say(page, "/start")
    tap(page, "Tours")
    tap(page, "The Forest Hiker")
    tap(page, "+")
    message_with(page, "Quantity: 2").wait_for()
    tap(page, "Buy")
    page.locator(".message .inline-button", has_text="Pay").last.wait_for()
