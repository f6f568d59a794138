-- Webhooks: an account's subscriptions, and one delivery row per (subscription, finished run),
-- written in the statement that finishes the run, so no finished run can be missed and a
-- delivery survives every restart until it is delivered or given up after 24 hours.

CREATE TABLE webhooks (
    id             uuid PRIMARY KEY,
    account_id     uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url            text NOT NULL,
    events         text[] NOT NULL,
    -- AES-GCM sealed by the master key, like every other secret; never shown again.
    secret_sealed  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, url)
);

CREATE TABLE webhook_deliveries (
    id               uuid PRIMARY KEY,
    webhook_id       uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    account_id       uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- No foreign key: a run removed with its tenant leaves its delivery to say so.
    run_id           uuid NOT NULL,
    event            text NOT NULL,
    -- The exact bytes sent (and signed), fixed at the first attempt so every retry is the
    -- same message.
    body             text,
    -- pending, delivered, failed (given up), dropped (the run no longer exists).
    state            text NOT NULL DEFAULT 'pending',
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    last_status      integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    UNIQUE (webhook_id, run_id, event)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, state);
