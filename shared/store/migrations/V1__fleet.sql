-- The fleet's state: accounts and their tokens, tenants, connections, integrations,
-- push runs with their history, snapshots and the remote document per (provider, tenant).

CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash   text NOT NULL UNIQUE,
    permissions  text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE TABLE tenants (
    id                   uuid PRIMARY KEY,
    account_id           uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name                 text NOT NULL,
    primary_domain       text NOT NULL,
    microsoft_tenant_id  text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (account_id, microsoft_tenant_id)
);

CREATE TABLE microsoft_connections (
    account_id            uuid PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    client_id             text NOT NULL,
    client_secret_sealed  text NOT NULL,
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE integrations (
    account_id      uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    provider        text NOT NULL,
    base_url        text,
    region          text,
    api_key_sealed  text NOT NULL,
    schedule        jsonb NOT NULL,
    rate_limit      jsonb,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, provider)
);

CREATE TABLE tenant_mappings (
    account_id        uuid NOT NULL,
    provider          text NOT NULL,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    remote_parent_id  bigint NOT NULL,
    PRIMARY KEY (provider, tenant_id),
    FOREIGN KEY (account_id, provider) REFERENCES integrations(account_id, provider) ON DELETE CASCADE
);

CREATE TABLE snapshots (
    id            uuid PRIMARY KEY,
    account_id    uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    collected_at  timestamptz NOT NULL,
    body          jsonb NOT NULL
);
CREATE INDEX snapshots_by_tenant ON snapshots (tenant_id, collected_at DESC);

CREATE TABLE push_runs (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    provider     text NOT NULL,
    trigger      text NOT NULL,
    state        text NOT NULL,
    attempts     integer NOT NULL DEFAULT 0,
    error        text,
    remote_id    text,
    snapshot_id  uuid REFERENCES snapshots(id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX push_runs_by_account ON push_runs (account_id, provider, created_at DESC);
CREATE INDEX push_runs_by_tenant ON push_runs (tenant_id, provider, created_at DESC);

CREATE TABLE push_run_events (
    run_id  uuid NOT NULL REFERENCES push_runs(id) ON DELETE CASCADE,
    state   text NOT NULL,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    detail  text
);
CREATE INDEX push_run_events_by_run ON push_run_events (run_id, at);

CREATE TABLE remote_documents (
    provider          text NOT NULL,
    tenant_id         uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    account_id        uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    remote_id         text NOT NULL,
    remote_parent_id  bigint NOT NULL,
    title             text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, tenant_id)
);
