//! `[limits]`: what one client may hold of a server, also with a valid certificate.

use std::time::Duration;

use serde::Deserialize;

/// Time and connection limits per client: the request headers must arrive within
/// `header_timeout`, a body within `body_timeout`, and one identity holds at most
/// `max_connections_per_identity` connections at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections_per_identity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            max_connections_per_identity: 32,
        }
    }
}

/// `[limits]` as written; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimits {
    header_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    max_connections_per_identity: Option<usize>,
}

impl RawLimits {
    /// The limits, defaults filled in; zero is refused (it would refuse every client).
    pub(crate) fn resolve(&self) -> Result<Limits, String> {
        let d = Limits::default();
        let secs = |v: Option<u64>, def: Duration, name: &str| match v {
            Some(0) => Err(format!("[limits] {name} must be at least 1")),
            Some(s) => Ok(Duration::from_secs(s)),
            None => Ok(def),
        };
        Ok(Limits {
            header_timeout: secs(
                self.header_timeout_secs,
                d.header_timeout,
                "header_timeout_secs",
            )?,
            body_timeout: secs(self.body_timeout_secs, d.body_timeout, "body_timeout_secs")?,
            max_connections_per_identity: match self.max_connections_per_identity {
                Some(0) => {
                    return Err("[limits] max_connections_per_identity must be at least 1".into())
                }
                Some(n) => n,
                None => d.max_connections_per_identity,
            },
        })
    }
}
