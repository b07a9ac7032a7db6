//! See DESIGN.md: the `audit` part. Not built yet.
