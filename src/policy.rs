//! See DESIGN.md: the `policy` part. Not built yet.
