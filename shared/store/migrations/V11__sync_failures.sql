-- The records a sync run's destination refused, one row per record: a publish batch delivered
-- again (RabbitMQ redelivers a batch whose ack was lost, a transient fault retries it) refuses
-- the same records again without counting them twice. A run's `failed` count is its rows.
CREATE TABLE sync_failures (
    run_id       uuid NOT NULL REFERENCES push_runs(id) ON DELETE CASCADE,
    object_kind  text NOT NULL,
    source_key   text NOT NULL,
    refused_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, object_kind, source_key)
);
