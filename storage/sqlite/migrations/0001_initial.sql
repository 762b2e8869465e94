-- Orders, the Stripe events already applied, and the outbox of chat messages still to send.
-- Times are Unix seconds (UTC). Amounts are integers in the currency's minor unit.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Tells this database apart from any other using the same Stripe account, so that
-- idempotency keys derived from order ids never collide across shops or rebuilt databases.
INSERT INTO meta (key, value) VALUES ('instance_id', lower(hex(randomblob(8))));

CREATE TABLE orders (
    id                  INTEGER PRIMARY KEY,
    telegram_user_id    INTEGER NOT NULL,
    chat_id             INTEGER NOT NULL,
    buyer_name          TEXT NOT NULL,
    buyer_username      TEXT,
    language            TEXT,
    product_id          TEXT NOT NULL,
    product_title       TEXT NOT NULL,
    quantity            INTEGER NOT NULL CHECK (quantity > 0),
    unit_amount         INTEGER NOT NULL CHECK (unit_amount > 0),
    amount_total        INTEGER NOT NULL CHECK (amount_total > 0),
    currency            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'paid',
                            'failed', 'expired', 'partially_refunded', 'refunded')),
    checkout_session_id TEXT UNIQUE,
    checkout_url        TEXT,
    checkout_expires_at INTEGER,
    payment_intent_id   TEXT,
    amount_received     INTEGER,
    failure_reason      TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    paid_at             INTEGER
);

CREATE INDEX orders_by_buyer ON orders (telegram_user_id, created_at);
CREATE INDEX orders_by_status ON orders (status);
CREATE INDEX orders_by_paid_at ON orders (paid_at) WHERE paid_at IS NOT NULL;

CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    received_at INTEGER NOT NULL
);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    chat_id         INTEGER NOT NULL,
    kind            TEXT NOT NULL,
    order_id        INTEGER REFERENCES orders (id),
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    sent_at         INTEGER,
    given_up_at     INTEGER,
    last_error      TEXT
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;
