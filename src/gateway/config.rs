//! `gateway.toml`: where the gateway listens, its certificate, the broker, who may call and
//! for which region. Relative paths are taken from the file's directory.
//!
//! ```toml
//! instance = "gw-1"
//! listen = "0.0.0.0:8446"
//! receivers = ["2321000016", "2321000115"]   # logical addresses the exchange delivers to
//!
//! [tls]      # the gateway's server certificate; callers' certificates chain to `ca`
//! ca = "pki/ca.pem"
//! cert = "pki/gateway.pem"
//! key = "pki/gateway.key"
//! crl = "pki/crl.pem"
//!
//! [broker]   # as in hub.toml; the certificate is the gateway's broker user
//! port = 5671
//! ca = "pki/ca.pem"
//! cert = "pki/gateway.pem"
//! key = "pki/gateway.key"
//!
//! [callers]  # a caller's certificate (pin) → the region it calls for
//! "hsa:SE2321000131-REGION" = "2321000131"
//!
//! [platform] # certificates that may name the original caller in
//! identities = ["hsa:SE0000000000-PLATFORM"]   # x-rivta-original-serviceconsumer-hsaid
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::broker::Endpoint;
use crate::hub::ValidationSettings;
use crate::net::{Limits, RawLimits, RawServerTls, ServerTls};
use crate::pki::Pin;

pub use crate::rivta::DEFAULT_PATH;

/// One gateway's configuration, paths resolved and checked.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Names the gateway's answer queue (`ih.answer.<instance>`).
    pub instance: String,
    pub listen: SocketAddr,
    /// The endpoint's path; the WSDL is at `<path>?wsdl`.
    pub path: String,
    /// The logical addresses (receiving regions) the exchange delivers to.
    pub receivers: BTreeSet<String>,
    pub tls: ServerTls,
    pub broker: Endpoint,
    /// A caller's certificate → the region (organisation number) it calls for.
    pub callers: Vec<(Pin, String)>,
    /// Certificates named only by their common name, where the configuration allows it:
    /// weaker (a CA can issue the same CN twice), so only a migration aid.
    pub callers_by_cn: BTreeMap<String, String>,
    /// The platform's certificates: the only callers whose
    /// `x-rivta-original-serviceconsumer-hsaid` is believed.
    pub platform: Vec<Pin>,
    /// How long a call waits for the exchange's decision before a Fault (VP009).
    pub answer_timeout: Duration,
    /// At most this many calls are worked on at once; more wait their turn.
    pub max_calls: usize,
    pub limits: Limits,
    /// The rule profile per sender, as in hub.toml's `[validation]`.
    pub validation: ValidationSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    instance: String,
    listen: SocketAddr,
    #[serde(default)]
    path: Option<String>,
    receivers: BTreeSet<String>,
    tls: RawServerTls,
    broker: Endpoint,
    #[serde(default)]
    callers: BTreeMap<String, String>,
    #[serde(default)]
    callers_by_cn: BTreeMap<String, String>,
    #[serde(default)]
    platform: RawPlatform,
    #[serde(default)]
    answer_timeout_secs: Option<u64>,
    #[serde(default)]
    max_calls: Option<usize>,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    validation: ValidationSettings,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlatform {
    #[serde(default)]
    identities: Vec<Pin>,
}

impl GatewayConfig {
    /// Reads and checks `gateway.toml`; errors name the file and the field.
    pub fn load(path: &Path) -> anyhow::Result<GatewayConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let raw: Raw = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_raw(raw, base).with_context(|| format!("{}", path.display()))
    }

    fn from_raw(raw: Raw, base: &Path) -> anyhow::Result<GatewayConfig> {
        let org_ok = crate::broker::topology::is_org_number;
        if !crate::broker::topology::is_instance_name(&raw.instance) {
            bail!(
                "`instance` {:?}: letters, digits, `-` and `_` only",
                raw.instance
            );
        }
        if let Some(bad) = raw.receivers.iter().find(|o| !org_ok(o)) {
            bail!("`receivers`: {bad:?} is not a 10-digit organisation number");
        }
        let mut callers = Vec::new();
        for (pin, org) in raw.callers {
            let pin: Pin = pin
                .parse()
                .map_err(|e| anyhow::anyhow!("`callers.{pin}`: {e}"))?;
            if !org_ok(&org) {
                bail!("`callers.\"{pin}\"` = {org:?}: not a 10-digit organisation number");
            }
            callers.push((pin, org));
        }
        if let Some((cn, org)) = raw.callers_by_cn.iter().find(|(_, o)| !org_ok(o)) {
            bail!("`callers_by_cn.\"{cn}\"` = {org:?}: not a 10-digit organisation number");
        }
        let path = raw.path.unwrap_or_else(|| DEFAULT_PATH.into());
        if !path.starts_with('/') || path.contains('?') {
            bail!("`path` {path:?}: an absolute URL path without a query");
        }
        let mut broker = raw.broker;
        broker.resolve_paths(base);
        Ok(GatewayConfig {
            instance: raw.instance,
            listen: raw.listen,
            path,
            receivers: raw.receivers,
            tls: raw.tls.resolve(base),
            broker,
            callers,
            callers_by_cn: raw.callers_by_cn,
            platform: raw.platform.identities,
            answer_timeout: Duration::from_secs(raw.answer_timeout_secs.unwrap_or(20).max(1)),
            max_calls: raw.max_calls.unwrap_or(32).max(1),
            limits: raw.limits.resolve().map_err(anyhow::Error::msg)?,
            validation: raw.validation,
        })
    }
}
