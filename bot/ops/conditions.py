"""The conditions the guardian watches for, and what the admins are told about each (English,
as the rest of the admins' console)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DOCTOR_HINT = "Run `checkout-bot doctor` on the server: it checks each setting against Stripe."


class Condition(StrEnum):
    WEBHOOK_NOT_REACHING = "webhook_not_reaching"
    SIGNATURE_MISMATCH = "signature_mismatch"
    OUTBOX_STUCK = "outbox_stuck"
    TELEGRAM_TOKEN_REFUSED = "telegram_token_refused"
    STRIPE_KEY_REFUSED = "stripe_key_refused"
    CHECKOUT_FAILING = "checkout_failing"
    DISK_NEARLY_FULL = "disk_nearly_full"


TITLES = {
    Condition.WEBHOOK_NOT_REACHING: "Stripe's webhook is not reaching the bot",
    Condition.SIGNATURE_MISMATCH: "the signing secret does not match",
    Condition.OUTBOX_STUCK: "chat messages are not going out",
    Condition.TELEGRAM_TOKEN_REFUSED: "Telegram refuses the bot's token",
    Condition.STRIPE_KEY_REFUSED: "Stripe refuses the secret key",
    Condition.CHECKOUT_FAILING: "payment links cannot be made",
    Condition.DISK_NEARLY_FULL: "the database's disk is nearly full",
}

REMEDIES = {
    Condition.WEBHOOK_NOT_REACHING: (
        "In Stripe's dashboard (Developers → Webhooks) the endpoint must point to"
        " PUBLIC_BASE_URL/stripe/webhook, be enabled and send the checkout events. " + DOCTOR_HINT
    ),
    Condition.SIGNATURE_MISMATCH: (
        "Copy the endpoint's signing secret (whsec_…) from Stripe's dashboard into"
        " STRIPE_WEBHOOK_SECRET and restart the bot."
    ),
    Condition.OUTBOX_STUCK: "Telegram may be down or refusing the bot; see the bot's log.",
    Condition.TELEGRAM_TOKEN_REFUSED: (
        "Put the bot's current token from @BotFather into TELEGRAM_BOT_TOKEN and restart."
    ),
    Condition.STRIPE_KEY_REFUSED: (
        "Put a valid key from Stripe's dashboard (Developers → API keys) into"
        " STRIPE_SECRET_KEY and restart. " + DOCTOR_HINT
    ),
    Condition.CHECKOUT_FAILING: "See the bot's log for what Stripe answers. " + DOCTOR_HINT,
    Condition.DISK_NEARLY_FULL: "Free some space: the database cannot record payments without.",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One condition as the guardian found it, with the figures behind the verdict."""

    condition: Condition
    active: bool
    figures: str

    def warning(self) -> str:
        """The admins' message while the condition lasts."""
        title = TITLES[self.condition]
        return f"⚠️ {title[0].upper()}{title[1:]}: {self.figures}.\n{REMEDIES[self.condition]}"

    def cleared(self) -> str:
        """The admins' message once it has ended."""
        return f"✅ Resolved: {TITLES[self.condition]} ({self.figures})."

    def line(self) -> str:
        """Its line in /health."""
        return f"{'⚠️' if self.active else '✅'} {TITLES[self.condition]}: {self.figures}"
