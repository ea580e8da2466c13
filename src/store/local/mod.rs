//! The embedded store: SQLite index and content-addressed block files.
