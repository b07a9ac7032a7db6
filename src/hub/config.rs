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
    /// Receiving region (organisation number) → where its bases go (its [`Sink`]).
    pub receivers: BTreeMap<String, Sink>,
    #[serde(default)]
    pub metrics: MetricsSettings,
    #[serde(default)]
    pub validation: ValidationSettings,
    #[serde(default)]
    pub witness: WitnessSettings,
    /// The SOAP gateways (`invoice-hub gateway`) whose claim to submit on a calling region's
    /// behalf is believed, named by their broker certificate's HSA-id (`hsa:SE0000000000-GATEWAY`).
    /// The same claim from any other broker user is refused and logged.
    #[serde(default)]
    pub gateways: Vec<crate::pki::Pin>,
    #[serde(default)]
    pub review: ReviewSettings,
}

/// Manual review: the sending regions whose withheld bases go to their own store for their
/// officials to decide on ([`crate::store::withheld`]), and how often the hub asks those stores
/// for decisions. `[review.stores]` names each region's store (an `invoice-hub store`, often
/// the one it receives with): `"<org>" = { url = "https://…", identity = "hsa:…-STORE" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewSettings {
    #[serde(default)]
    pub stores: BTreeMap<String, ReviewStore>,
    #[serde(default = "default_review_every")]
    pub every_secs: u64,
}

/// A sending region's review store.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewStore {
    pub url: String,
    /// The store's server certificate (as for a receiver's store).
    #[serde(default)]
    pub identity: Option<crate::pki::Pin>,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        ReviewSettings {
            stores: BTreeMap::new(),
            every_secs: default_review_every(),
        }
    }
}

fn default_review_every() -> u64 {
    10
}

/// Where the log's signed heads go: every `store` receiver, and `extra`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessSettings {
    /// A head is signed (if the log grew) and sent this often.
    #[serde(default = "default_witness_every")]
    pub every_secs: u64,
    /// More witnesses (`https://host:port`, e.g. `invoice-hub store` run only as a witness).
    #[serde(default)]
    pub extra: Vec<String>,
    /// Send heads to the `store` receivers too (default).
    #[serde(default = "yes")]
    pub stores: bool,
}

fn default_witness_every() -> u64 {
    60
}
fn yes() -> bool {
    true
}

impl Default for WitnessSettings {
    fn default() -> Self {
        WitnessSettings {
            every_secs: default_witness_every(),
            extra: Vec::new(),
            stores: true,
        }
    }
}

/// How one receiving region gets its bases, written in `[receivers]` as
///
/// ```toml
/// "2321000016" = "https://store.sll.example:8443"          # its store (the `store` sink)
/// "2321000131" = { sink = "store", url = "https://…" }      # the same, spelled out
/// "2321000164" = { sink = "store", url = "https://…", identity = "hsa:SE2321000164-STORE" }
/// "2321000115" = { sink = "queue" }                          # it pulls its delivery queue
/// "2321000149" = { sink = "rivta", url = "https://…/ProcessClaimSpecification/1/rivtabp21",
///                  identity = "hsa:SE2321000149-PRODUCER" }  # its own SOAP producer
/// ```
///
/// Every receiver has its own delivery queue (`ih.deliver.<org>`). For a `store` receiver the
/// hub's deliver stage consumes it and puts each basis into the store; a `queue` receiver
/// consumes it itself (`invoice-hub receive`) and its receipts come back to the hub's receipt
/// stage. A new kind of delivery is a new variant here and a new [`super::sink`] beside the
/// store's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "SinkEntry")]
pub enum Sink {
    /// The region's restricted store, by mutual-TLS `PUT`. With `identity` (a pin,
    /// `hsa:SE2321000016-STORE`), the store's server certificate must be that one: the CA and
    /// the host name alone would let any federation certificate for that name stand in for the
    /// store.
    Store {
        url: String,
        identity: Option<crate::pki::Pin>,
    },
    /// The region pulls its delivery queue and sends receipts back.
    Queue,
    /// The region's own producer of the national contract, called with
    /// `ProcessClaimSpecification` at `url` (`https://host:port/path`); `identity` as for a
    /// store.
    Rivta {
        url: String,
        identity: Option<crate::pki::Pin>,
    },
}

impl Sink {
    /// The sink's name in the configuration, the metrics and `/ready`.
    pub fn kind(&self) -> &'static str {
        match self {
            Sink::Store { .. } => "store",
            Sink::Queue => "queue",
            Sink::Rivta { .. } => "rivta",
        }
    }
}

/// `[receivers]` as written: a bare URL, or a table naming the sink.
#[derive(Deserialize)]
#[serde(untagged)]
enum SinkEntry {
    Url(String),
    Table(SinkTable),
}

#[derive(Deserialize)]
#[serde(tag = "sink", rename_all = "lowercase", deny_unknown_fields)]
enum SinkTable {
    Store {
        url: String,
        #[serde(default)]
        identity: Option<crate::pki::Pin>,
    },
    Queue {},
    Rivta {
        url: String,
        #[serde(default)]
        identity: Option<crate::pki::Pin>,
    },
}

impl TryFrom<SinkEntry> for Sink {
    type Error = String;

    fn try_from(e: SinkEntry) -> Result<Sink, String> {
        let (url, identity) = match e {
            SinkEntry::Table(SinkTable::Queue {}) => return Ok(Sink::Queue),
            SinkEntry::Table(SinkTable::Rivta { url, identity }) => {
                return match split_url(&url) {
                    Some((_, path)) if path.len() > 1 => Ok(Sink::Rivta { url, identity }),
                    _ => Err(format!(
                        "{url:?}: a producer is an https://host:port/path URL (the path is the \
                         producer's endpoint, e.g. /ProcessClaimSpecification/1/rivtabp21)"
                    )),
                }
            }
            SinkEntry::Url(url) => (url, None),
            SinkEntry::Table(SinkTable::Store { url, identity }) => (url, identity),
        };
        if !url.starts_with("https://") {
            return Err(format!(
                "{url:?} is not an https:// URL (stores speak only TLS)"
            ));
        }
        Ok(Sink::Store { url, identity })
    }
}

/// `https://host:port/path` → (`https://host:port`, `/path`).
pub(crate) fn split_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("https://")?;
    let at = rest.find('/').unwrap_or(rest.len());
    let base = &url[.."https://".len() + at];
    Some((base, &rest[at..]))
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
    /// Unacknowledged bases the broker hands the decide stage: its in-flight limit.
    pub prefetch: u16,
    /// Unacknowledged bases each receiver's deliver stage holds (its own prefetch): a store
    /// that is slow or down holds these and nothing of anyone else's.
    pub per_receiver: u16,
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
    /// The CA's revocation list: a store whose certificate it lists is not delivered to
    /// (retried, then parked after `give_up_secs`). Looked at every `crl_reload_secs`.
    #[serde(default)]
    pub crl: Option<PathBuf>,
    #[serde(default = "default_crl_reload")]
    pub crl_reload_secs: u64,
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
fn default_crl_reload() -> u64 {
    crate::tls::DEFAULT_RELOAD.as_secs()
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
        self.delivery.crl.iter_mut().for_each(rel);
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
        for org in self.receivers.keys() {
            if !crate::broker::topology::is_org_number(org) {
                bail!("`receivers.{org}`: not a 10-digit organisation number");
            }
        }
        for (org, store) in &self.review.stores {
            if !crate::broker::topology::is_org_number(org) {
                bail!("`review.stores.{org}`: not a 10-digit organisation number");
            }
            if !store.url.starts_with("https://") {
                bail!("`review.stores.{org}.url`: {:?} is not https://", store.url);
            }
        }
        for g in &self.gateways {
            if !matches!(g, crate::pki::Pin::Hsa { issuer: None, .. }) {
                bail!(
                    "`gateways`: {g} — name a gateway by its HSA-id alone (hsa:SE…): the broker \
                     user the hub sees is the certificate's subject, which has no key or issuer"
                );
            }
        }
        if !crate::broker::topology::is_instance_name(&self.instance) {
            bail!(
                "`instance` {:?}: letters, digits, `-` and `_` only, at most 64 (it names the \
                 hub in every log entry and in the hand-overs it publishes)",
                self.instance
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receiver_is_a_store_url_or_a_table_naming_its_sink() {
        #[derive(Debug, Deserialize)]
        struct R {
            receivers: BTreeMap<String, Sink>,
        }
        let r: R = toml::from_str(
            "[receivers]\n\"1\" = \"https://a:1\"\n\"2\" = { sink = \"store\", url = \"https://b:2\", \
             identity = \"hsa:SE2-STORE\" }\n\"3\" = { sink = \"queue\" }\n",
        )
        .unwrap();
        assert_eq!(
            r.receivers["1"],
            Sink::Store {
                url: "https://a:1".into(),
                identity: None,
            }
        );
        assert_eq!(
            r.receivers["2"],
            Sink::Store {
                url: "https://b:2".into(),
                identity: Some("hsa:SE2-STORE".parse().unwrap()),
            }
        );
        for bad in [
            "\"1\" = \"http://a:1\"",
            "\"1\" = { sink = \"store\", url = \"a\" }",
        ] {
            let e = toml::from_str::<R>(&format!("[receivers]\n{bad}\n")).unwrap_err();
            assert!(e.to_string().contains("https://"), "{bad}: {e}");
        }
        assert!(toml::from_str::<R>("[receivers]\n\"1\" = { sink = \"fax\" }\n").is_err());
    }

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
