//! See DESIGN.md: the `hub` part. Not built yet.
