//! See DESIGN.md: the `broker` part. Not built yet.
