-- A sync run's payloads are planned before they are read: one row per company to sync, in
-- order, with no body until the company's records are read. Publishers start on the first
-- companies while the collector reads the rest, and a collector that takes over a run
-- half-read reads only the rows still without a body. Publishers of the previous release read
-- every row's body, so a rolling upgrade updates publishers before collectors.
ALTER TABLE payloads ALTER COLUMN body DROP NOT NULL;
