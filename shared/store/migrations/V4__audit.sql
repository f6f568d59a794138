-- The audit trail of configuration changes: who (the API token's id, never the token), what
-- (entity type and id, which fields changed; secrets only as "changed"), when. Rows are
-- written in the same transaction as the change they describe and live as long as the account.
CREATE TABLE audit_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id           uuid NOT NULL UNIQUE,
    account_id   uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_id     uuid,
    action       text NOT NULL,
    entity_type  text NOT NULL,
    entity_id    text NOT NULL,
    changes      jsonb NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX audit_events_by_account ON audit_events (account_id, seq DESC);
