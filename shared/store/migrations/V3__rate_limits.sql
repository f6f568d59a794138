-- The pacing ledger: for every rate-limit key (one provider credential of one account), the
-- earliest moment its next provider call may start. Every process that calls a provider takes
-- its slots here, so the budget holds across publisher replicas, the API's connection tests
-- and restarts.
CREATE TABLE rate_limit_slots (
    key        text PRIMARY KEY,
    next_slot  timestamptz NOT NULL,
    paused_until timestamptz
);
