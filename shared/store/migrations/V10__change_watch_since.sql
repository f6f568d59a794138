-- When each tenant began to be watched (its row made, after an integration mapping it said
-- onChange): its first poll pushes the changes logged since then, and treats only older
-- entries as history. Rows already there are watched from the upgrade on.

ALTER TABLE change_watch ADD COLUMN watching_since timestamptz NOT NULL DEFAULT now();
