-- A long read stores its company's first records before it is done: `part` counts the parts
-- stored so far while the read is under way (1, 2, ...), and is NULL once the body is the
-- whole read. Publishers write a part's records while the rest are read, and archive nothing
-- and keep the company's read cursor until the body is whole. Publishers of the previous
-- release would take a part for the whole read, so a rolling upgrade updates publishers
-- before collectors (as for V14).
ALTER TABLE payloads ADD COLUMN part integer;
