-- SyncKit's PostgreSQL schema, version 2: one log row may hold several change batches.

-- A commit writes one row per document, holding all of that document's batches of the
-- commit, in order: a row with one batch keeps it in data, as every row of version 1 does
-- (those rows read unchanged); a row with two or more keeps them in batches, in order, and
-- data is NULL. Exactly one of the two is set. Rows written by version 1 satisfy the check
-- by construction, so it is not validated against them (NOT VALID: the migration does not
-- scan the log); every row written from now on is checked.
ALTER TABLE changes ALTER COLUMN data DROP NOT NULL;
ALTER TABLE changes ADD COLUMN batches bytea[];
ALTER TABLE changes ADD CONSTRAINT changes_one_form CHECK (
    num_nonnulls(data, batches) = 1
    AND (batches IS NULL OR (
        array_ndims(batches) = 1
        AND cardinality(batches) >= 2
        AND array_position(batches, NULL) IS NULL
    ))
) NOT VALID;

-- snapshots.covered keeps counting batches (not rows) folded into the snapshot: a row is
-- deleted, and its batches counted, once a snapshot covers all of them.
