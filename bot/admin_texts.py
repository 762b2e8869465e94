"""What the bot says to the shop's admins (in English: the console is the owner's)."""

from __future__ import annotations

from collections.abc import Sequence

from babel import Locale

from bot.money import Money
from storage import SalesLine


def admins_only() -> str:
    return "Sorry, this command is for the shop's admins."


def sales_report(periods: Sequence[tuple[str, Sequence[SalesLine]]], locale: Locale) -> str:
    """Paid orders and revenue per period, one line per currency (never summed across them)."""
    lines = ["<b>Sales</b> (paid orders, gross revenue)"]
    for title, sales in periods:
        lines += ["", f"<b>{title}</b>"]
        if not sales:
            lines.append("no paid orders")
        for line in sales:
            revenue = Money(line.revenue, line.currency).format(locale)
            noun = "order" if line.orders == 1 else "orders"
            lines.append(f"{line.currency.upper()}: {line.orders} {noun}, {revenue}")
    return "\n".join(lines)


def stats_usage(periods: Sequence[str]) -> str:
    return f"Usage: /stats [{'|'.join(periods)}]"


def reconciling() -> str:
    return "Asking Stripe about every order still waiting for its payment…"


def reconciled(summary: str) -> str:
    return f"Reconciliation done: {summary}."
