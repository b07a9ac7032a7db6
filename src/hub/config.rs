//! `hub.toml`: where the broker is, which policies apply, where the disclosure log lives, and
//! which store each receiving region has. Paths are relative to the file, so a deployment moves
//! as one directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::broker::Endpoint;
use crate::validate::Profile;

/// The whole configuration of one hub instance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// This instance's name: written into every log entry, and the disclosure log's id.
    pub instance: String,
    pub broker: Endpoint,
    #[serde(default)]
    pub consume: ConsumeSettings,
    pub policy: PolicySettings,
    pub audit: AuditSettings,
    pub delivery: DeliverySettings,
    /// Receiving region (organisation number) → its store's base URL (`https://host:port`).
    pub receivers: BTreeMap<String, String>,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub validation: ValidationSettings,
}

/// Which rule profile each sender's bases are checked under (docs/validation.md): the
/// contract's text by default, or the official Schematron's verdict for a sender whose
/// receivers run that file and who wants the hub to answer as they would.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidationSettings {
    /// The profile for every sender not named in `senders`.
    #[serde(default)]
    pub profile: Profile,
    /// Sending region (organisation number) → its profile.
    #[serde(default)]
    pub senders: BTreeMap<String, Profile>,
}

impl ValidationSettings {
    /// The profile `sender`'s bases are checked under.
    pub fn profile_of(&self, sender: &str) -> Profile {
        self.senders.get(sender).copied().unwrap_or(self.profile)
    }
}

/// How many messages the hub works on at once.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumeSettings {
    /// Unacknowledged messages the broker hands the hub: the in-flight limit.
    pub prefetch: u16,
    /// At most this many bases for one receiver in flight, so a slow store cannot take every
    /// slot from the others.
    pub per_receiver: usize,
}

impl Default for ConsumeSettings {
    fn default() -> Self {
        ConsumeSettings {
            prefetch: 64,
            per_receiver: 16,
        }
    }
}

/// The sending regions' policies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySettings {
    /// Policy files or directories of them.
    pub paths: Vec<PathBuf>,
}

/// The disclosure log and its keys (kept outside the log directory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    pub dir: PathBuf,
    /// Ed25519 key that signs tree heads (`invoice-hub audit keygen`).
    pub signing_key: PathBuf,
    /// The deployment secret patients are hashed with.
    pub patient_key: PathBuf,
    /// Sign a tree head every this many entries.
    #[serde(default = "default_checkpoint")]
    pub checkpoint_every: u64,
}

fn default_checkpoint() -> u64 {
    1024
}

/// How bases reach the stores.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliverySettings {
    /// The federation CA the stores' server certificates chain to.
    pub ca: PathBuf,
    /// The hub's client certificate and key: the only identity a store lets write.
    pub cert: PathBuf,
    pub key: PathBuf,
    /// One attempt's time limit.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// First retry after this long, doubling up to `retry_max_secs`.
    #[serde(default = "default_retry_initial")]
    pub retry_initial_ms: u64,
    #[serde(default = "default_retry_max")]
    pub retry_max_secs: u64,
    /// Stop retrying after this long and park the basis (the sender is told).
    #[serde(default = "default_give_up")]
    pub give_up_secs: u64,
}

fn default_timeout() -> u64 {
    10
}
fn default_retry_initial() -> u64 {
    200
}
fn default_retry_max() -> u64 {
    10
}
fn default_give_up() -> u64 {
    300
}

impl DeliverySettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
    pub fn give_up(&self) -> Duration {
        Duration::from_secs(self.give_up_secs)
    }
    /// The retry schedule; refuses a first delay of 0 or one longer than the longest.
    pub fn backoff(&self) -> Result<crate::retry::Backoff, crate::retry::BackoffError> {
        crate::retry::Backoff::try_new(
            Duration::from_millis(self.retry_initial_ms),
            Duration::from_secs(self.retry_max_secs),
        )
    }
}

/// Prometheus metrics.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// `127.0.0.1:9464`; none = no metrics listener.
    pub listen: Option<std::net::SocketAddr>,
}

impl HubConfig {
    /// Reads and checks `hub.toml`; relative paths are taken from the file's directory.
    pub fn load(path: &Path) -> anyhow::Result<HubConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut cfg: HubConfig =
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve(base);
        cfg.check().with_context(|| format!("{}", path.display()))?;
        Ok(cfg)
    }

    fn resolve(&mut self, base: &Path) {
        self.broker.resolve_paths(base);
        let rel = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        self.policy.paths.iter_mut().for_each(rel);
        for p in [
            &mut self.audit.dir,
            &mut self.audit.signing_key,
            &mut self.audit.patient_key,
            &mut self.delivery.ca,
            &mut self.delivery.cert,
            &mut self.delivery.key,
        ] {
            rel(p);
        }
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.instance.trim().is_empty() {
            bail!("`instance` must name this hub");
        }
        if self.consume.prefetch == 0 || self.consume.per_receiver == 0 {
            bail!("`consume.prefetch` and `consume.per_receiver` must be at least 1");
        }
        if self.receivers.is_empty() {
            bail!("`receivers` is empty: the hub could deliver to nobody");
        }
        if let Err(e) = self.delivery.backoff() {
            bail!("`delivery.retry_initial_ms`, `delivery.retry_max_secs`: {e}");
        }
        for org in self.validation.senders.keys() {
            if !crate::broker::topology::is_org_number(org) {
                bail!("`validation.senders.{org}`: not a 10-digit organisation number");
            }
        }
        for (org, url) in &self.receivers {
            if !crate::broker::topology::is_org_number(org) {
                bail!("`receivers.{org}`: not a 10-digit organisation number");
            }
            if !url.starts_with("https://") {
                bail!("`receivers.{org}`: {url:?} is not an https:// URL (stores speak only TLS)");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_gets_its_own_profile_and_the_rest_the_default() {
        let v: ValidationSettings = toml::from_str(
            "profile = \"contract\"\n[senders]\n\"2321000115\" = \"official-schematron\"\n",
        )
        .unwrap();
        assert_eq!(v.profile_of("2321000115"), Profile::OfficialSchematron);
        assert_eq!(v.profile_of("2321000016"), Profile::Contract);
        assert_eq!(
            ValidationSettings::default().profile_of("2321000115"),
            Profile::Contract
        );
        let e = toml::from_str::<ValidationSettings>("[senders]\n\"2321000115\" = \"strict\"\n")
            .unwrap_err();
        assert!(e.to_string().contains("official-schematron"), "{e}");
    }
}
