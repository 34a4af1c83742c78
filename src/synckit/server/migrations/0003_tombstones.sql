-- SyncKit's PostgreSQL schema, version 3: tombstones of deleted documents.

-- A document deleted by a principal with admin access to it keeps a row here for good: its
-- id is never used again (subscriptions and pushes under it are refused with DOC_DELETED), so
-- no replica holding an old copy can bring it back. Deleting writes the row and removes the
-- document's log, snapshot and view in one transaction, holding the document's append lock
-- (the advisory lock every commit to it takes), and a commit checks this table under that
-- lock: no change is ever stored after a document's tombstone.
CREATE TABLE tombstones (
    doc_id text PRIMARY KEY,
    principal text NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
