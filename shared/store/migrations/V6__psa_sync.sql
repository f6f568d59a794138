-- PSA sync (ConnectWise Manage first) on the core posture pushes already use:
-- * runs that are not tenant-shaped: a sync run has no tenant and carries counts;
-- * one map of remote objects (account, destination, object kind, source key) -> remote id,
--   which replaces remote_documents and keeps every document recorded there, so nothing is
--   created twice after the upgrade;
-- * PSA integrations with their typed options, the company list with match states, payloads
--   (what a collector read, by kind) and a schedule slot per (account, PSA, slot).

ALTER TABLE push_runs ADD COLUMN kind text NOT NULL DEFAULT 'push';
ALTER TABLE push_runs ALTER COLUMN tenant_id DROP NOT NULL;
ALTER TABLE push_runs ADD COLUMN counts jsonb;
ALTER TABLE push_runs ADD CONSTRAINT push_runs_kind_shape
    CHECK ((kind = 'push' AND tenant_id IS NOT NULL) OR (kind = 'sync' AND tenant_id IS NULL));

CREATE TABLE remote_objects (
    account_id        uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    destination       text NOT NULL,
    object_kind       text NOT NULL,
    source_key        text NOT NULL,
    remote_id         text NOT NULL,
    remote_parent_id  bigint,
    title             text NOT NULL,
    fingerprint       text,
    archived          boolean NOT NULL DEFAULT false,
    -- Posture objects belong to a tenant (removed with it); PSA objects to a PSA company
    -- (`scope`, e.g. `connectwise-manage:250`), so a sync can archive what disappeared there.
    tenant_id         uuid REFERENCES tenants(id) ON DELETE CASCADE,
    scope             text,
    last_seen_run     uuid,
    last_written_run  uuid,
    last_action       text,
    last_seen_at      timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, destination, object_kind, source_key)
);
CREATE INDEX remote_objects_by_tenant ON remote_objects (tenant_id) WHERE tenant_id IS NOT NULL;
CREATE INDEX remote_objects_by_scope ON remote_objects (account_id, destination, scope) WHERE scope IS NOT NULL;
CREATE INDEX remote_objects_by_run ON remote_objects (last_seen_run);

INSERT INTO remote_objects (account_id, destination, object_kind, source_key, remote_id,
                            remote_parent_id, title, tenant_id, updated_at)
SELECT account_id, provider,
       CASE provider WHEN 'hudu' THEN 'posture-article' ELSE 'posture-asset' END,
       tenant_id::text, remote_id, remote_parent_id, title, tenant_id, updated_at
  FROM remote_documents;
DROP TABLE remote_documents;

CREATE TABLE psa_integrations (
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    psa             text NOT NULL,
    -- The typed config without its secrets (serde of the config type) and the shared options.
    config          jsonb NOT NULL,
    options         jsonb NOT NULL,
    -- name -> sealed secret (AES-256-GCM under the master key).
    secrets_sealed  jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, psa)
);

CREATE TABLE psa_companies (
    account_id              uuid NOT NULL,
    psa                     text NOT NULL,
    psa_id                  bigint NOT NULL,
    name                    text NOT NULL,
    active                  boolean NOT NULL,
    deleted                 boolean NOT NULL DEFAULT false,
    company_type            text,
    match_state             text NOT NULL DEFAULT 'unmatched',
    destination_company_id  bigint,
    suggested_company_id    bigint,
    -- When the records of this company were last read whole and written: the next sync
    -- reads only what changed since (plus an id listing to see deletions).
    synced_through          timestamptz,
    -- The options the cursor was earned under; other options mean a full read.
    synced_options          text,
    seen_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, psa, psa_id),
    FOREIGN KEY (account_id, psa) REFERENCES psa_integrations(account_id, psa) ON DELETE CASCADE
);

CREATE TABLE payloads (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    run_id        uuid NOT NULL REFERENCES push_runs(id) ON DELETE CASCADE,
    kind          text NOT NULL,
    source_key    text NOT NULL,
    seq           integer NOT NULL,
    read_started_at timestamptz NOT NULL,
    body          jsonb NOT NULL,
    UNIQUE (run_id, seq)
);
CREATE INDEX payloads_by_account ON payloads (account_id);

CREATE TABLE psa_schedule_slots (
    account_id  uuid NOT NULL,
    psa         text NOT NULL,
    slot_at     timestamptz NOT NULL,
    run_id      uuid NOT NULL,
    claimed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, psa, slot_at),
    FOREIGN KEY (account_id, psa) REFERENCES psa_integrations(account_id, psa) ON DELETE CASCADE
);
