//! See DESIGN.md: the `store` part. Not built yet.
