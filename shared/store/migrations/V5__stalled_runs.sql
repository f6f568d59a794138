-- Runs in flight (collecting, publishing) by when they last moved: the scheduler hands runs
-- that made no progress for a long time to the collectors again (a message lost in a broker
-- crash must not leave a run stuck).
CREATE INDEX push_runs_in_flight ON push_runs (updated_at) WHERE state IN ('collecting', 'publishing');
