//! Where a broker is and which certificate to show it. The certificate is the identity: with the
//! EXTERNAL mechanism the broker's user is the certificate's common name, so there is no password
//! anywhere in a configuration file.
//!
//! A clustered broker is several nodes with the same users, queues and certificates: the
//! configuration lists them (`nodes = ["mq1:5671", "mq2:5671", "mq3:5671"]`) and
//! [`super::Session`] connects to whichever answers, moving on to the next when one goes away.
//! The one-node form (`host` + `port`) stays valid.

use std::path::{Path, PathBuf};

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;

use super::error::BrokerError;
use super::topology;

/// How long one connection attempt to one node may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One broker, as a region's or the hub's configuration names it (the `[broker]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Host name the broker's server certificate is valid for (`localhost` in development).
    #[serde(default = "default_host")]
    pub host: String,
    /// The broker's AMQPS port (the one-node form; leave it out when `nodes` is given).
    #[serde(default)]
    pub port: u16,
    /// The nodes of a cluster, `host:port` each, tried in order; each node's server certificate
    /// must be valid for its host name. Replaces `host` and `port` when given.
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// The federation CA that signed the broker's server certificate.
    pub ca: PathBuf,
    /// This party's client certificate (PEM); its distinguished name is the broker user.
    pub cert: PathBuf,
    /// Its private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`): what lapin's rustls backend reads.
    pub key: PathBuf,
    /// Name shown for the connection in `rabbitmqctl list_connections`.
    #[serde(default)]
    pub connection_name: Option<String>,
}

fn default_host() -> String {
    "localhost".into()
}

fn default_vhost() -> String {
    topology::VHOST.into()
}

impl Endpoint {
    /// An endpoint on this machine for a certificate pair, as tests and `make run` need it.
    pub fn local(port: u16, ca: &Path, cert: &Path, key: &Path) -> Self {
        Endpoint {
            host: default_host(),
            port,
            nodes: Vec::new(),
            vhost: default_vhost(),
            ca: ca.into(),
            cert: cert.into(),
            key: key.into(),
            connection_name: None,
        }
    }

    /// Makes relative certificate paths relative to the configuration file's directory, so a
    /// configuration and its certificates can move together.
    pub fn resolve_paths(&mut self, base: &Path) {
        for p in [&mut self.ca, &mut self.cert, &mut self.key] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// A cluster of nodes on this machine (`localhost:PORT` each), as the cluster test needs it.
    pub fn local_cluster(ports: &[u16], ca: &Path, cert: &Path, key: &Path) -> Self {
        let mut e = Endpoint::local(0, ca, cert, key);
        e.nodes = ports.iter().map(|p| format!("localhost:{p}")).collect();
        e
    }

    /// The nodes to try, in order: `nodes` when given, else `host:port`. A `nodes` entry that is
    /// not `host:port` is refused with the entry named.
    pub fn addresses(&self) -> Result<Vec<(String, u16)>, BrokerError> {
        let bad = |message: String| BrokerError::Config {
            path: "[broker]".into(),
            message,
        };
        if self.nodes.is_empty() {
            if self.port == 0 {
                return Err(bad("give `port` (one node) or `nodes` (a cluster)".into()));
            }
            return Ok(vec![(self.host.clone(), self.port)]);
        }
        self.nodes
            .iter()
            .map(|n| {
                let (host, port) = n
                    .rsplit_once(':')
                    .filter(|(h, _)| !h.is_empty())
                    .ok_or_else(|| bad(format!("nodes: {n:?} is not host:port")))?;
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad(format!("nodes: {n:?} has no valid port")))?;
                Ok((host.to_string(), port))
            })
            .collect()
    }

    /// How many nodes this endpoint names (at least 1 for a valid configuration).
    pub fn node_count(&self) -> usize {
        self.nodes.len().max(1)
    }

    /// The AMQP URL of the first node; it holds no secret, so it may be logged.
    pub fn url(&self) -> String {
        self.node_url(0)
            .unwrap_or_else(|_| self.url_of(&self.host, self.port))
    }

    /// The AMQP URL of `node` (an index into [`Endpoint::addresses`]; wraps around).
    pub fn node_url(&self, node: usize) -> Result<String, BrokerError> {
        let all = self.addresses()?;
        let (host, port) = &all[node % all.len()];
        Ok(self.url_of(host, *port))
    }

    fn url_of(&self, host: &str, port: u16) -> String {
        let vhost = self.vhost.replace('%', "%25").replace('/', "%2f");
        format!("amqps://{host}:{port}/{vhost}?auth_mechanism=external&heartbeat=10")
    }

    fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, BrokerError> {
        std::fs::read(path).map_err(|source| BrokerError::Read {
            what,
            path: path.into(),
            source,
        })
    }

    /// Reads the certificate files into lapin's TLS configuration. A key that is not PKCS#8 is
    /// refused here with the file's name, instead of as an opaque TLS failure later.
    pub fn tls_config(&self) -> Result<OwnedTLSConfig, BrokerError> {
        // lapin builds its rustls configuration with the process default provider.
        crate::tls::provider();
        let ca = Self::read("CA certificate", &self.ca)?;
        let pem = Self::read("client certificate", &self.cert)?;
        let key = crate::tls::pkcs8_key_pem(&self.key).map_err(|e| match e {
            crate::tls::TlsError::Unusable { path, message } => {
                BrokerError::Config { path, message }
            }
            crate::tls::TlsError::Read { path, source } => BrokerError::Read {
                what: "private key",
                path,
                source,
            },
        })?;
        let ca = String::from_utf8(ca).map_err(|_| BrokerError::Config {
            path: self.ca.clone(),
            message: "the CA certificate is not PEM text".into(),
        })?;
        Ok(OwnedTLSConfig {
            identity: Some(OwnedIdentity::PKCS8 { pem, key }),
            cert_chain: Some(ca),
        })
    }

    /// The broker user this endpoint's certificate logs in as (its distinguished name, as
    /// RabbitMQ writes it: see [`crate::tls::cert::broker_user`]): what messages must carry as
    /// `user_id`.
    pub fn user(&self) -> Result<String, BrokerError> {
        let bad = |message: String| BrokerError::Config {
            path: self.cert.clone(),
            message,
        };
        let der = crate::tls::load_certs(&self.cert)
            .map_err(|e| bad(e.to_string()))?
            .remove(0);
        crate::tls::cert::broker_user(&der).map_err(bad)
    }

    /// Opens one connection to the first node, once. No retry: [`super::Session`] decides
    /// about retrying and moving on to another node.
    pub async fn connect(&self) -> Result<Connection, BrokerError> {
        self.connect_node(0).await
    }

    /// Opens one connection to `node` (an index into [`Endpoint::addresses`]), once, giving up
    /// after [`CONNECT_TIMEOUT`]: a node on a machine that is gone does not answer at all, and
    /// the session should move on to the next one instead of waiting for TCP to time out.
    pub async fn connect_node(&self, node: usize) -> Result<Connection, BrokerError> {
        let url = self.node_url(node)?;
        let tls = self.tls_config()?;
        let mut props = ConnectionProperties::default();
        if let Some(name) = &self.connection_name {
            props = props.with_connection_name(name.clone().into());
        }
        let runtime = lapin::runtime::default_runtime()?;
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            Connection::connect_with_config(&url, props, tls, runtime),
        )
        .await
        {
            Ok(r) => r.map_err(|source| BrokerError::Connect { url, source }),
            Err(_) => Err(BrokerError::Unreachable {
                url,
                secs: CONNECT_TIMEOUT.as_secs(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_uses_external_auth_and_escapes_the_vhost() {
        let mut e = Endpoint::local(5671, "ca.pem".as_ref(), "c.pem".as_ref(), "c.key".as_ref());
        assert_eq!(
            e.url(),
            "amqps://localhost:5671/invoice-hub?auth_mechanism=external&heartbeat=10"
        );
        e.vhost = "/".into();
        assert!(e.url().contains(":5671/%2f?"));
    }

    #[test]
    fn a_cluster_lists_its_nodes_and_the_one_node_form_still_works() {
        let one = Endpoint::local(5671, "a".as_ref(), "b".as_ref(), "c".as_ref());
        assert_eq!(one.addresses().unwrap(), vec![("localhost".into(), 5671)]);
        assert_eq!(one.node_url(3).unwrap(), one.url());
        let c = Endpoint::local_cluster(&[1, 2, 3], "a".as_ref(), "b".as_ref(), "c".as_ref());
        assert_eq!(c.node_count(), 3);
        assert!(c.node_url(1).unwrap().starts_with("amqps://localhost:2/"));
        assert!(c.node_url(5).unwrap().starts_with("amqps://localhost:3/"));
        assert!(c.url().starts_with("amqps://localhost:1/"), "{}", c.url());
        let mut bad = c.clone();
        bad.nodes.push("mq4".into());
        let err = bad.addresses().unwrap_err().to_string();
        assert!(err.contains("\"mq4\" is not host:port"), "{err}");
        let none = Endpoint::local(0, "a".as_ref(), "b".as_ref(), "c".as_ref());
        assert!(none.addresses().is_err());
    }

    #[test]
    fn a_cluster_config_reads_without_a_port() {
        let e: Endpoint = toml::from_str(
            "nodes = [\"mq1.example:5671\", \"mq2.example:5672\"]\nca = \"ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n",
        )
        .unwrap();
        assert_eq!(
            e.addresses().unwrap(),
            vec![("mq1.example".into(), 5671), ("mq2.example".into(), 5672)]
        );
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let mut e = Endpoint::local(1, "ca.pem".as_ref(), "/abs/c.pem".as_ref(), "k".as_ref());
        e.resolve_paths(Path::new("/etc/ih"));
        assert_eq!(e.ca, Path::new("/etc/ih/ca.pem"));
        assert_eq!(e.cert, Path::new("/abs/c.pem"));
        assert_eq!(e.key, Path::new("/etc/ih/k"));
    }

    #[test]
    fn a_non_pkcs8_key_is_refused_with_its_file_name() {
        let dir = tempfile::tempdir().unwrap();
        for (f, body) in [
            ("ca.pem", "-----BEGIN CERTIFICATE-----\n"),
            ("c.pem", "-----BEGIN CERTIFICATE-----\n"),
            ("c.key", "-----BEGIN EC PRIVATE KEY-----\n"),
        ] {
            std::fs::write(dir.path().join(f), body).unwrap();
        }
        let e = Endpoint::local(
            1,
            &dir.path().join("ca.pem"),
            &dir.path().join("c.pem"),
            &dir.path().join("c.key"),
        );
        let err = e.tls_config().unwrap_err().to_string();
        assert!(err.contains("c.key") && err.contains("PKCS#8"), "{err}");
    }
}
