-- A left object's row now goes in the statement that archives it (the run's `archived` count
-- so far kept in its counts), and one recorded in the map again is no longer left: the rows
-- earlier syncs archived and kept are pruned here. `archived_run` stays for the binaries of a
-- rolling upgrade; it is no longer set.
DELETE FROM left_objects WHERE archived_run IS NOT NULL;
