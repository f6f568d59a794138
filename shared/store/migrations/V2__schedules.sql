-- Scheduled pushes: one row per (provider, tenant, slot) makes each slot happen exactly once,
-- whichever scheduler replica gets there first. Integrations remember when they were created,
-- so a new integration does not fire slots from before it existed.

ALTER TABLE integrations ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
-- The latest slot claimed for every mapped tenant, so a tick skips integrations already done
-- instead of re-trying every tenant's slot row.
ALTER TABLE integrations ADD COLUMN last_slot_at timestamptz;

CREATE TABLE schedule_slots (
    provider    text NOT NULL,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    slot_at     timestamptz NOT NULL,
    account_id  uuid NOT NULL,  -- removed with the tenant (no foreign key: the claim is the hot path)
    run_id      uuid NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, tenant_id, slot_at)
);
-- A run is accepted when its row commits; its message is confirmed by the broker afterwards.
-- enqueued_at records the confirm, so a relay can find accepted runs whose message never made
-- it (a crash between the two) without re-sending runs that are merely waiting in the queue.
ALTER TABLE push_runs ADD COLUMN enqueued_at timestamptz;
CREATE INDEX push_runs_not_enqueued ON push_runs (created_at) WHERE state = 'queued' AND enqueued_at IS NULL;

-- Deleting a tenant (or an account) cascades through these tables by tenant id: index them so
-- removing 100,000 tenants does not scan every mapping and slot once per tenant.
CREATE INDEX tenant_mappings_by_tenant ON tenant_mappings (tenant_id);
CREATE INDEX schedule_slots_by_tenant ON schedule_slots (tenant_id);
CREATE INDEX remote_documents_by_tenant ON remote_documents (tenant_id);
CREATE INDEX remote_documents_by_account ON remote_documents (account_id);
CREATE INDEX snapshots_by_account ON snapshots (account_id);
CREATE INDEX tenants_by_account ON tenants (account_id);
CREATE INDEX api_tokens_by_account ON api_tokens (account_id);
