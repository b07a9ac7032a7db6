//! A region's side of the exchange: its configuration file (`region.toml`, see
//! `deploy/region-*.toml`) and how one basis becomes one AMQP message. The message says who sent
//! it in `user_id`, which the broker checks against the certificate, so the hub can trust it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde::Deserialize;

use super::endpoint::Endpoint;
use super::error::BrokerError;
use super::messages::BASIS_TYPE;
use super::publisher::Outgoing;
use super::topology;

/// `region.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// The region's organisation number: its broker user and its certificate's common name.
    pub org: String,
    /// A name for people (`Region Stockholm`); never used for access.
    #[serde(default)]
    pub name: Option<String>,
    pub broker: Endpoint,
    #[serde(default)]
    pub publish: PublishSettings,
    /// For a region that pulls its bases (`sink = "queue"` in the hub's `[receivers]`): where
    /// `invoice-hub receive` writes them.
    #[serde(default)]
    pub receive: Option<super::pull::ReceiveSettings>,
}

/// How hard `invoice-hub publish` tries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PublishSettings {
    /// Publishes waiting for a confirm at the same time.
    pub in_flight: usize,
    /// Attempts per basis (nack, return, lost connection, no confirm in time).
    pub max_attempts: u32,
    /// Seconds to wait for one confirm.
    pub confirm_timeout_secs: u64,
    /// Seconds to keep trying to reach the broker before giving up.
    pub connect_give_up_secs: u64,
}

impl Default for PublishSettings {
    fn default() -> Self {
        PublishSettings {
            in_flight: 64,
            max_attempts: 6,
            confirm_timeout_secs: 30,
            connect_give_up_secs: 60,
        }
    }
}

impl PublishSettings {
    pub fn confirm_timeout(&self) -> Duration {
        Duration::from_secs(self.confirm_timeout_secs.max(1))
    }
    pub fn connect_give_up(&self) -> Duration {
        Duration::from_secs(self.connect_give_up_secs)
    }
}

impl RegionConfig {
    /// Reads and checks `region.toml`; certificate paths are relative to the file.
    pub fn load(path: &Path) -> Result<Self, BrokerError> {
        let text = std::fs::read_to_string(path).map_err(|source| BrokerError::Read {
            what: "region configuration",
            path: path.into(),
            source,
        })?;
        let mut cfg: RegionConfig = toml::from_str(&text).map_err(|e| BrokerError::Config {
            path: path.into(),
            message: e.to_string(),
        })?;
        if !topology::is_org_number(&cfg.org) {
            return Err(BrokerError::Config {
                path: path.into(),
                message: format!(
                    "org must be a 10-digit organisation number, not {:?}",
                    cfg.org
                ),
            });
        }
        let base = path.parent().map(PathBuf::from).unwrap_or_default();
        cfg.broker.resolve_paths(&base);
        if let Some(r) = &mut cfg.receive {
            r.keep().map_err(|message| BrokerError::Config {
                path: path.into(),
                message,
            })?;
            if let Some(dir) = r.dir.as_mut().filter(|d| d.is_relative()) {
                *dir = base.join(&*dir);
            }
        }
        if cfg.broker.connection_name.is_none() {
            cfg.broker.connection_name = Some(format!("region {}", cfg.org));
        }
        Ok(cfg)
    }

    /// The status queue this region reads.
    pub fn status_queue(&self) -> String {
        topology::status_queue(&self.org)
    }

    /// The notify queue this region reads.
    pub fn notify_queue(&self) -> String {
        topology::notify_queue(&self.org)
    }
}

/// The AMQP message for one basis from broker user `user` (a region's distinguished name,
/// [`super::Endpoint::user`]): persistent, `message_id` = basis id, `user_id` = the user
/// (checked by the broker), a SHA-256 of the body so the hub and the sender can talk about
/// exactly these bytes.
pub fn basis_message(user: &str, basis_id: &str, xml: Vec<u8>) -> Outgoing {
    use sha2::Digest;
    let sha = hex::encode(sha2::Sha256::digest(&xml));
    let mut headers = FieldTable::default();
    headers.insert("x-content-sha256".into(), AMQPValue::LongString(sha.into()));
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/xml".into())
        .with_message_id(basis_id.into())
        .with_user_id(user.into())
        .with_app_id("invoice-hub publish".into())
        .with_type(BASIS_TYPE.into())
        .with_timestamp(crate::clock::now().timestamp().max(0) as u64)
        .with_headers(headers);
    Outgoing {
        exchange: topology::SUBMIT_EXCHANGE.into(),
        routing_key: topology::SUBMIT_ROUTING_KEY.into(),
        payload: xml,
        properties,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_region_file_with_relative_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("region.toml");
        std::fs::write(
            &path,
            r#"
org = "2321000016"
[broker]
port = 5671
ca = "certs/ca.pem"
cert = "certs/region-2321000016.pem"
key = "certs/region-2321000016.key"
[publish]
in_flight = 8
"#,
        )
        .unwrap();
        let cfg = RegionConfig::load(&path).unwrap();
        assert_eq!(cfg.broker.ca, dir.path().join("certs/ca.pem"));
        assert_eq!(cfg.broker.vhost, "invoice-hub");
        assert_eq!(cfg.publish.in_flight, 8);
        assert_eq!(cfg.publish.max_attempts, 6);
        assert_eq!(cfg.status_queue(), "ih.status.2321000016");
    }

    #[test]
    fn the_deploy_examples_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("region-") && name.ends_with(".toml") {
                let cfg = RegionConfig::load(&e.path()).unwrap_or_else(|err| panic!("{err}"));
                assert!(
                    cfg.broker.cert.ends_with(format!("region-{}.pem", cfg.org)),
                    "{name}"
                );
                n += 1;
            }
        }
        assert!(n >= 3, "three example regions in deploy/");
    }

    #[test]
    fn refuses_an_org_that_is_not_an_org_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        std::fs::write(
            &path,
            "org = \".*\"\n[broker]\nport=1\nca=\"a\"\ncert=\"b\"\nkey=\"c\"\n",
        )
        .unwrap();
        let err = RegionConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("r.toml") && err.contains("organisation number"),
            "{err}"
        );
    }

    #[test]
    fn a_basis_message_names_its_sender_and_id() {
        let m = basis_message("2321000016", "ZVF1", b"<x/>".to_vec());
        assert_eq!(m.exchange, "ih.submit");
        assert_eq!(m.routing_key, "submit");
        assert_eq!(
            m.properties.user_id().as_ref().unwrap().as_str(),
            "2321000016"
        );
        assert_eq!(m.properties.message_id().as_ref().unwrap().as_str(), "ZVF1");
        assert_eq!(*m.properties.delivery_mode(), Some(2));
    }
}
