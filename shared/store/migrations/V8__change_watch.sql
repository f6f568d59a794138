-- Change-triggered pushes (schedule.onChange): one row per watched tenant (mapped in an
-- integration whose schedule has onChange true) says how far its directory audit log was read
-- and which entries were seen in the window read last, so an entry is acted on once. A lease
-- (lease_id, lease_until) lets exactly one scheduler replica poll a tenant at a time: only the
-- holder of the lease can advance the cursor, and the runs it creates commit with the advance.

CREATE TABLE change_watch (
    tenant_id       uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- Where the last successful poll read up to; NULL until the first one, which only sets it.
    cursor_at       timestamptz,
    -- Ids of the audit entries the last poll saw (its whole window, with the look-back).
    seen_ids        text[] NOT NULL DEFAULT '{}',
    -- The newest relevant change seen, and when the last push for one was enqueued.
    last_change_at  timestamptz,
    last_push_at    timestamptz,
    next_poll_at    timestamptz NOT NULL DEFAULT now(),
    polled_at       timestamptz,
    last_error      text,
    lease_id        uuid,
    lease_until     timestamptz
);
CREATE INDEX change_watch_due ON change_watch (next_poll_at);
CREATE INDEX change_watch_by_account ON change_watch (account_id);
