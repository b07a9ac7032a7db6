//! Where a broker is and which certificate to show it. The certificate is the identity: with the
//! EXTERNAL mechanism the broker's user is the certificate's common name, so there is no password
//! anywhere in a configuration file.

use std::path::{Path, PathBuf};

use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};
use serde::Deserialize;

use super::error::BrokerError;
use super::topology;

/// One broker, as a region's or the hub's configuration names it (the `[broker]` table).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Host name the broker's server certificate is valid for (`localhost` in development).
    #[serde(default = "default_host")]
    pub host: String,
    /// The broker's AMQPS port.
    pub port: u16,
    #[serde(default = "default_vhost")]
    pub vhost: String,
    /// The federation CA that signed the broker's server certificate.
    pub ca: PathBuf,
    /// This party's client certificate (PEM); its common name is the broker user.
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

    /// The AMQP URL; it holds no secret, so it may be logged.
    pub fn url(&self) -> String {
        let vhost = self.vhost.replace('%', "%25").replace('/', "%2f");
        format!(
            "amqps://{}:{}/{}?auth_mechanism=external&heartbeat=10",
            self.host, self.port, vhost
        )
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
        let ca = Self::read("CA certificate", &self.ca)?;
        let pem = Self::read("client certificate", &self.cert)?;
        let key = Self::read("private key", &self.key)?;
        if !key
            .windows(b"BEGIN PRIVATE KEY".len())
            .any(|w| w == b"BEGIN PRIVATE KEY")
        {
            return Err(BrokerError::Config {
                path: self.key.clone(),
                message: "the private key must be PKCS#8 PEM (BEGIN PRIVATE KEY)".into(),
            });
        }
        let ca = String::from_utf8(ca).map_err(|_| BrokerError::Config {
            path: self.ca.clone(),
            message: "the CA certificate is not PEM text".into(),
        })?;
        Ok(OwnedTLSConfig {
            identity: Some(OwnedIdentity::PKCS8 { pem, key }),
            cert_chain: Some(ca),
        })
    }

    /// Opens one connection, once. No retry: [`super::Session`] decides about retrying.
    pub async fn connect(&self) -> Result<Connection, BrokerError> {
        let tls = self.tls_config()?;
        let mut props = ConnectionProperties::default();
        if let Some(name) = &self.connection_name {
            props = props.with_connection_name(name.clone().into());
        }
        let url = self.url();
        let runtime = lapin::runtime::default_runtime()?;
        Connection::connect_with_config(&url, props, tls, runtime)
            .await
            .map_err(|source| BrokerError::Connect { url, source })
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
