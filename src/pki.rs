//! See DESIGN.md: the `pki` part. Not built yet.
