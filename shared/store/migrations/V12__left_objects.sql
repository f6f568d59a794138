-- Objects a sync wrote for a PSA company into the destination company it was matched to,
-- left behind there when the PSA company is matched elsewhere (another company, a new one)
-- or unmatched: their rows leave the map of remote objects (so the records are written to
-- the new match, adopted or created there) and wait here until the account's next sync
-- archives them in the old company (`archived_run`: the run that did, for its counts). Only
-- what the map held is ever archived, never an object docsync did not write or adopt.
CREATE TABLE left_objects (
    account_id        uuid NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    destination       text NOT NULL,
    psa               text NOT NULL,
    remote_id         text NOT NULL,
    remote_parent_id  bigint NOT NULL,
    object_kind       text NOT NULL,
    source_key        text NOT NULL,
    title             text NOT NULL,
    left_at           timestamptz NOT NULL DEFAULT now(),
    archived_run      uuid,
    PRIMARY KEY (account_id, destination, remote_id)
);
CREATE INDEX left_objects_to_archive ON left_objects (account_id, destination, psa) WHERE archived_run IS NULL;
CREATE INDEX left_objects_by_run ON left_objects (archived_run) WHERE archived_run IS NOT NULL;
