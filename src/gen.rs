//! See DESIGN.md: the `gen` part. Not built yet.
