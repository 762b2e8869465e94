"""What the bot says to the shop's admins (in English: the console is the owner's; amounts in
the admin's locale). Messages use Telegram's HTML parse mode."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_percent

from bot.admin.periods import PERIOD_NAMES, Period, Step
from bot.money import Money
from bot.references import reference_for
from storage import (
    CurrencyFigures,
    InviteLink,
    Order,
    PeriodFigures,
    StarPayment,
    StatusChange,
)

PERIOD_HELP = f"{'|'.join(PERIOD_NAMES)}|YYYY-MM-DD..YYYY-MM-DD"
# Names and titles are cut in listings so that a page of sales stays readable.
SHORT_TEXT = 32


def admins_only() -> str:
    return "Sorry, this command is for the shop's admins."


def command_failed() -> str:
    return (
        "That command failed on the bot's side; nothing was changed by it. The error is in"
        " the bot's log, and GET /healthz tells whether the database answers."
    )


def local_time(at: int, timezone: ZoneInfo) -> str:
    """ "2025-03-30 14:05" in the shop's time zone."""
    return datetime.fromtimestamp(at, timezone).strftime("%Y-%m-%d %H:%M")


def status_name(order: Order) -> str:
    return order.status.value.replace("_", " ")


def money(minor: int, currency: str, locale: Locale) -> str:
    return escape(Money(minor, currency).format(locale))


def _short(text: str) -> str:
    return escape(text if len(text) <= SHORT_TEXT else text[: SHORT_TEXT - 1] + "…")


def buyer(order: Order, *, short: bool = False) -> str:
    """The buyer's name and @username when known, else their Telegram id."""
    name = _short(order.buyer_name) if short else escape(order.buyer_name)
    if order.buyer_username:
        return f"{name} @{escape(order.buyer_username)}".strip()
    return f"{name} (id {order.telegram_user_id})".strip()


# /stats


def stats_report(
    periods: Sequence[tuple[Period, PeriodFigures]], timezone: ZoneInfo, locale: Locale
) -> list[str]:
    """The figures of each period side by side, money per currency, then the best sellers: as
    many messages as Telegram's length limit needs (a shop selling in many currencies)."""
    table: list[list[str]] = [["", *(period.title for period, _ in periods)]]
    currencies = sorted({line.currency for _, figures in periods for line in figures.currencies})
    for currency in currencies:
        found = [_in_currency(figures, currency) for _, figures in periods]
        table.append([currency.upper()])
        table.append([" Paid orders", *(str(line.orders) for line in found)])
        table.append([" Gross", *(money(line.gross, currency, locale) for line in found)])
        table.append([" Refunds", *(money(line.refunded, currency, locale) for line in found)])
        table.append([" Net", *(money(line.net, currency, locale) for line in found)])
        table.append([" Avg order", *(money(line.average, currency, locale) for line in found)])
    if not currencies:
        table.append(["Paid orders", *("0" for _ in periods)])
    table.append(["Links created", *(str(figures.links_created) for _, figures in periods)])
    table.append(["Paid share", *(_share(figures, locale) for _, figures in periods)])
    table.append(["New buyers", *(str(figures.new_buyers) for _, figures in periods)])
    table.append(["Returning", *(str(figures.returning_buyers) for _, figures in periods)])

    title = f"<b>Stats</b> · days in {escape(timezone.key)}"
    header, *rows = _aligned(table).split("\n")
    messages = [
        f"{title}\n<pre>{escape(chunk)}</pre>"
        for chunk in _split(rows, 4000 - len(title) - len(header) - 20, head=header)
    ]
    lines = []
    widest, figures = periods[-1]
    if figures.top_products:
        lines.append(f"<b>Top products</b> · {escape(widest.title)}")
    ranks: dict[str, int] = {}
    for product in figures.top_products:
        rank = ranks[product.currency] = ranks.get(product.currency, 0) + 1
        noun = "order" if product.orders == 1 else "orders"
        lines.append(
            f"{product.currency.upper()} {rank}. {_short(product.title)}:"
            f" {money(product.revenue, product.currency, locale)}"
            f" ({product.orders} {noun}, {product.quantity} sold)"
        )
    tail = _split(lines) if lines else []
    if tail and len(messages[-1]) + 1 + len(tail[0]) <= 4000:
        messages[-1] += "\n" + tail.pop(0)
    return messages + tail


def _in_currency(figures: PeriodFigures, currency: str) -> CurrencyFigures:
    """The period's figures in one currency, zero when nothing was paid in it."""
    for line in figures.currencies:
        if line.currency == currency:
            return line
    return CurrencyFigures(currency, 0, 0, 0, 0)


def _share(figures: PeriodFigures, locale: Locale) -> str:
    if not figures.links_created:
        return "–"
    return format_percent(figures.links_paid / figures.links_created, locale=locale)


def _aligned(table: list[list[str]]) -> str:
    """Rows as columns: labels on the left, figures right-aligned under their period."""
    widths = [
        max(len(row[column]) for row in table if len(row) > column)
        for column in range(len(table[0]))
    ]
    out = []
    for row in table:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(widths[column]) for column, cell in enumerate(row[1:], 1)]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def period_error(command: str, problem: str) -> str:
    return f"{escape(problem.capitalize())}. Usage: /{command} [{PERIOD_HELP}]"


# /sales


def sales_page(
    orders: Sequence[Order], timezone: ZoneInfo, locale: Locale, first: bool
) -> list[str]:
    """One line per paid order, newest first, split into messages that Telegram accepts."""
    if not orders:
        return ["No paid orders yet." if first else "No older paid orders."]
    header = "<b>Latest paid orders</b>, newest first:" if first else "<b>Older paid orders</b>:"
    lines = [header]
    for order in orders:
        lines.append(
            f"<code>#{reference_for(order.id)}</code>"
            f" · {local_time(order.paid_at or order.created_at, timezone)}"
            f" · {buyer(order, short=True)} · {_what(order, short=True)} · {_line_count(order)}"
            f" · {money(order.amount_total, order.currency, locale)} · {status_name(order)}"
        )
    return _split(lines)


def _split(lines: Sequence[str], limit: int = 4000, head: str | None = None) -> list[str]:
    """Join lines into as few messages as fit Telegram's 4096 characters, each message
    starting with `head` when one is given (a table's header row)."""
    start = [head] if head is not None else []
    messages: list[str] = []
    current: list[str] = list(start)
    for line in lines:
        if len(current) > len(start) and len("\n".join([*current, line])) > limit:
            messages.append("\n".join(current))
            current = list(start)
        current.append(line)
    messages.append("\n".join(current))
    return messages


def sales_usage(most: int) -> str:
    return f"Usage: /sales [N], N from 1 to {most}"


def older_button() -> str:
    return "Older ▸"


def _what(order: Order, *, short: bool = False) -> str:
    """What an order sold: "The Forest Hiker × 2", and how many other lines it has."""
    first = order.lines[0]
    title = _short(first.title) if short else escape(first.title)
    more = len(order.lines) - 1
    return f"{title} × {first.quantity}" + (f" + {more} more" if more else "")


def _line_count(order: Order) -> str:
    count = len(order.lines)
    return f"{count} line" if count == 1 else f"{count} lines"


# /order


def order_usage() -> str:
    return "Usage: /order &lt;reference&gt;, e.g. /order K7Q2"


def no_such_order(reference: str) -> str:
    # Cut: a reference that is no reference may be thousands of characters long.
    return f"No order #{_short(reference.strip().lstrip('#').upper())}."


def order_details(
    order: Order,
    history: Sequence[StatusChange],
    timezone: ZoneInfo,
    locale: Locale,
    goods: Sequence[str] = (),
) -> str:
    lines = [f"<b>Order #{reference_for(order.id)}</b> · {status_name(order)}"]
    lines += [
        f"{escape(line.title)} × {line.quantity} (<code>{escape(line.product_id)}</code>)"
        f" · {money(line.unit_amount, order.currency, locale)} each"
        + (f" · {money(line.amount, order.currency, locale)}" if line.quantity > 1 else "")
        for line in order.lines
    ]
    lines.append(
        f"Total {money(order.amount_total, order.currency, locale)} · {_line_count(order)}"
    )
    if order.amount_received is not None:
        lines.append(f"Received {money(order.amount_received, order.currency, locale)}")
    if order.amount_refunded:
        lines.append(f"Refunded {money(order.amount_refunded, order.currency, locale)}")
    lines.append(
        f"Buyer {buyer(order)}, user id <code>{order.telegram_user_id}</code>,"
        f" language {escape(order.language or 'unknown')}"
    )
    lines.append(f"Created {local_time(order.created_at, timezone)}")
    if order.paid_at is not None:
        lines.append(f"Paid {local_time(order.paid_at, timezone)}")
    lines.append(f"Checkout Session <code>{escape(order.checkout_session_id or 'none')}</code>")
    lines.append(f"Payment intent <code>{escape(order.payment_intent_id or 'none')}</code>")
    lines += goods
    if order.failure_reason:
        lines.append(f"Failure: {escape(order.failure_reason)}")
    if order.flag:
        lines.append(f"⚠️ Flagged: {escape(order.flag)}")
    lines += ["", f"<b>History</b> ({escape(timezone.key)})"]
    lines += [
        f"{local_time(change.at, timezone)} {change.status.value.replace('_', ' ')}"
        f" · {escape(change.source)}"
        for change in history
    ]
    return "\n".join(lines)


def code_hint(code: str) -> str:
    """A delivered code as the owner sees it: its last four characters only."""
    return "…" + code[-4:]


def goods_lines(
    codes: Sequence[str], invites: Sequence[InviteLink], star_payment: StarPayment | None
) -> list[str]:
    """What an order delivered (never a whole code), and its payment in Stars."""
    lines = []
    if codes:
        shown = ", ".join(f"<code>{escape(code_hint(code))}</code>" for code in codes)
        lines.append(f"Delivered {'code' if len(codes) == 1 else 'codes'} {shown}")
    for invite in invites:
        state = "revoked" if invite.revoked_at is not None else "active"
        lines.append(
            f"Delivered invite link to <code>{invite.chat_id}</code> ({state}):"
            f" {escape(invite.invite_link)}"
        )
    if star_payment is not None:
        refunded = ", refunded" if star_payment.refunded_at is not None else ""
        lines.append(
            f"Paid in Telegram Stars: charge <code>{escape(star_payment.charge_id)}</code>"
            f"{refunded}"
        )
    return lines


# /export and /chart


def export_caption(period: Period, count: int) -> str:
    noun = "order" if count == 1 else "orders"
    return f"Orders created {escape(_period_phrase(period))}: {count} {noun}"


def nothing_to_export(period: Period) -> str:
    return f"No orders were created {escape(_period_phrase(period))}."


def export_too_large(period: Period, count: int) -> str:
    return (
        f"The {count} orders created {escape(_period_phrase(period))} make a file over the"
        " 50 MB Telegram takes. Ask for a shorter period."
    )


def chart_caption(period: Period, step: Step) -> str:
    every = {Step.DAY: "Daily", Step.WEEK: "Weekly", Step.MONTH: "Monthly"}[step]
    return f"{every} revenue and paid orders, {escape(_period_phrase(period))}"


def nothing_to_chart(period: Period) -> str:
    return f"No paid orders {escape(_period_phrase(period))}: nothing to draw."


def chart_failed() -> str:
    return "Sorry, the chart could not be drawn; the log says why."


def chart_too_long(most_years: int) -> str:
    return f"A chart shows at most {most_years} years; pick a shorter period."


def _period_phrase(period: Period) -> str:
    if period.first is None:
        return "so far"
    if period.first == period.last:
        return f"on {period.first.isoformat()}"
    return f"from {period.first.isoformat()} to {period.last.isoformat() if period.last else 'now'}"


# /alerts


def alerts_usage(enabled: bool) -> str:
    state = "on" if enabled else "off"
    return f"Sale alerts are {state}. Usage: /alerts on|off"


def alerts_set(enabled: bool) -> str:
    if enabled:
        return (
            "Sale alerts on: you will get a message on every paid order, refund and failed payment."
        )
    return "Sale alerts off."


def alert_paid(order: Order, locale: Locale) -> str:
    return (
        f"💰 Sale: <code>#{reference_for(order.id)}</code> · {_what(order)}"
        f" · {money(order.amount_total, order.currency, locale)}"
        f" · {buyer(order)}"
    )


def alert_refunded(order: Order, amount: int | None, locale: Locale) -> str:
    refunded = money(order.amount_refunded, order.currency, locale)
    total = money(order.amount_total, order.currency, locale)
    this = f"{money(amount, order.currency, locale)} " if amount is not None else ""
    return (
        f"↩️ Refund {this}on <code>#{reference_for(order.id)}</code>"
        f" · {_what(order)} · {refunded} of {total} refunded in all"
        f" · {status_name(order)}"
    )


def alert_failed(order: Order, locale: Locale) -> str:
    reason = f": {escape(order.failure_reason)}" if order.failure_reason else ""
    return (
        f"❌ Payment failed on <code>#{reference_for(order.id)}</code>"
        f" · {_what(order)} · {money(order.amount_total, order.currency, locale)}"
        f" · {buyer(order)}{reason}"
    )


def alert_flagged(order: Order, locale: Locale, reason: str | None = None) -> str:
    total = money(order.amount_total, order.currency, locale)
    return (
        f"⚠️ Order <code>#{reference_for(order.id)}</code> needs a look:"
        f" {escape(reason or order.flag or 'flagged')} · {total}"
        f" · /order {reference_for(order.id)}"
    )


# /refund


def refund_usage() -> str:
    return (
        "Usage: /refund &lt;reference&gt; [amount], e.g. /refund K7Q2 12.50"
        " (without an amount: all that is left)"
    )


def refund_not_refundable(order: Order) -> str:
    return f"Order #{reference_for(order.id)} is {status_name(order)}: there is nothing to refund."


def refund_bad_amount(order: Order, problem: str) -> str:
    return (
        f"{escape(problem)}. Give the amount in {order.currency.upper()},"
        f" e.g. /refund {reference_for(order.id)} 10"
    )


def refund_too_much(order: Order, asked: int, paid: int, left: int, locale: Locale) -> str:
    """`paid`: what the buyer paid; `left`: what is left of it once the refunds Stripe made or
    was asked for are taken off."""
    return (
        f"Cannot refund {money(asked, order.currency, locale)} on order"
        f" #{reference_for(order.id)}: only {money(left, order.currency, locale)} is left"
        f" (paid {money(paid, order.currency, locale)},"
        f" refunded or asked of Stripe {money(paid - left, order.currency, locale)})."
    )


def refund_nothing_left(order: Order, paid: int, locale: Locale) -> str:
    return (
        f"Order #{reference_for(order.id)}: all of the {money(paid, order.currency, locale)} paid"
        " was refunded or asked of Stripe; nothing left to refund."
    )


def refund_question(order: Order, amount: int, locale: Locale) -> str:
    return (
        f"Refund {money(amount, order.currency, locale)} of order"
        f" <code>#{reference_for(order.id)}</code> · {_what(order)}"
        f" · {money(order.amount_total, order.currency, locale)}"
        f" to {buyer(order)}?"
    )


def refund_confirm_button(amount: int, currency: str, locale: Locale) -> str:
    return f"Refund {Money(amount, currency).format(locale)}"


def refund_ask_again_button() -> str:
    return "Ask Stripe again"


def refund_cancel_button() -> str:
    return "Cancel"


def refund_cancelled(question: str) -> str:
    return f"{question}\n\nNot refunded."


def refund_requested(question: str, refund_id: str, status: str) -> str:
    return (
        f"{question}\n\nRequested at Stripe: <code>{escape(refund_id)}</code> ({escape(status)})."
        " The order changes when Stripe confirms the refund."
    )


def refund_stars_whole(order: Order) -> str:
    return (
        f"Order #{reference_for(order.id)} was paid in Telegram Stars, which Telegram refunds"
        f" whole only: /refund {reference_for(order.id)}"
    )


def refund_made_in_stars(question: str, charge_id: str) -> str:
    return (
        f"{question}\n\nRefunded in Telegram Stars: <code>{escape(charge_id)}</code>."
        " The buyer is told."
    )


def refund_refused(question: str, reason: str, by: str = "Stripe") -> str:
    """`by`: who refused, Stripe or (for an order paid in Stars) Telegram."""
    return f"{question}\n\n{by} refused the refund: {escape(reason)}"


def refund_unanswered(question: str, by: str = "Stripe") -> str:
    return (
        f"{question}\n\n{by} did not answer: the refund is <b>not made yet</b>. The bot asks"
        " again at its next start, or now with the button below."
    )


def refund_in_progress() -> str:
    return "This refund is already being requested."


def refund_order_busy(question: str, order: Order) -> str:
    """A Confirm that came while another refund of the same order was on its way to Stripe
    (from another question, maybe on another device): not asked, so that two refunds never
    pass the check of what is left together."""
    reference = reference_for(order.id)
    return (
        f"{question}\n\nNot refunded: another refund of this order was being requested at"
        f" Stripe at that moment. See what is left with /order {reference}, then ask again"
        f" with /refund {reference} if you still want to."
    )


def refund_order_busy_for_now() -> str:
    return "Another refund of this order is being requested at Stripe; tap again in a moment."


def refund_question_closed() -> str:
    return "This question is closed."


# /reconcile


def reconciling() -> str:
    return "Asking Stripe about every order still waiting for its payment…"


def reconciled(summary: str) -> str:
    return f"Reconciliation done: {summary}."
