"""The PostgreSQL schema's versioned migrations, ``NNNN_name.sql``, applied in order by
:mod:`synckit.server._migrate`. A migration, once released, never changes: a new one follows."""
