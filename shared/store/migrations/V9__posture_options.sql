-- Posture options of a documentation integration (Hudu, IT Glue): the sections written,
-- writeUnchanged and (Hudu) the article template, as the serde form of
-- docsync_domain::PostureOptions. '{}' is every section, always written, the built-in layout.
ALTER TABLE integrations ADD COLUMN posture_options jsonb NOT NULL DEFAULT '{}'::jsonb;
