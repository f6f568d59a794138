-- Scheduled pushes: one row per (provider, tenant, slot) makes each slot happen exactly once,
-- whichever scheduler replica gets there first. Integrations remember when they were created,
-- so a new integration does not fire slots from before it existed.

ALTER TABLE integrations ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

CREATE TABLE schedule_slots (
    provider    text NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slot_at     timestamptz NOT NULL,
    account_id  uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    run_id      uuid NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, tenant_id, slot_at)
);
CREATE INDEX schedule_slots_by_time ON schedule_slots (slot_at);
CREATE INDEX push_runs_queued ON push_runs (updated_at) WHERE state = 'queued';
