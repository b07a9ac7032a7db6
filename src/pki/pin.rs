//! How a configuration names a certificate: by something an issuer cannot hand out twice by
//! accident, never by its common name.
//!
//! | written | matches a certificate whose |
//! |---|---|
//! | `hsa:SE2321000016-READER1` | subject SERIALNUMBER is that HSA-id (from any CA the edge trusts) |
//! | `hsa:SE2321000016-READER1@C=SE,O=Inera AB,CN=SITHS e-id Function CA` | the same, and issuer is that DN |
//! | `sha256:<64 hex digits>` | public key (SubjectPublicKeyInfo) has that SHA-256 |
//!
//! A bare name is refused when the configuration is read, with the reason: the CA that issues
//! staff certificates (SITHS) issues thousands, and a CN is whatever the request said.

use std::fmt;
use std::str::FromStr;

use super::identity::Identity;
use crate::tls::cert::normalise_dn;

/// A certificate named in a permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Pin {
    /// The subject's SERIALNUMBER (HSA-id), optionally from one issuer only.
    Hsa {
        hsa_id: String,
        issuer: Option<String>,
    },
    /// The SHA-256 of the public key, lowercase hex.
    Key(String),
}

/// Why a configured permission is not a pin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error(
        "{0:?} names a certificate by its common name alone, which any certificate of the CA \
         can carry; name it by HSA-id (hsa:SE…, the subject's SERIALNUMBER) or by public key \
         (sha256:<64 hex digits>, see `invoice-hub pki show CERT`)"
    )]
    BareName(String),
    #[error("{0:?}: an HSA-id has letters, digits and '-' only")]
    BadHsaId(String),
    #[error("{0:?}: a key fingerprint is 64 hex digits after sha256:")]
    BadFingerprint(String),
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(s: &str) -> Result<Pin, PinError> {
        if let Some(rest) = s.strip_prefix("hsa:") {
            let (id, issuer) = match rest.split_once('@') {
                Some((id, issuer)) => (id, Some(normalise_dn(issuer))),
                None => (rest, None),
            };
            let ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            if !ok {
                return Err(PinError::BadHsaId(s.to_string()));
            }
            return Ok(Pin::Hsa {
                hsa_id: id.to_string(),
                issuer,
            });
        }
        if let Some(hex) = s.strip_prefix("sha256:") {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(PinError::BadFingerprint(s.to_string()));
            }
            return Ok(Pin::Key(hex.to_ascii_lowercase()));
        }
        Err(PinError::BareName(s.to_string()))
    }
}

impl TryFrom<String> for Pin {
    type Error = PinError;
    fn try_from(s: String) -> Result<Pin, PinError> {
        s.parse()
    }
}

impl Pin {
    /// The pin of a certificate's identity as [`Identity::id`] writes it (no issuer).
    pub fn of(who: &Identity) -> Pin {
        match &who.hsa_id {
            Some(h) => Pin::Hsa {
                hsa_id: h.clone(),
                issuer: None,
            },
            None => Pin::Key(who.key_sha256.clone()),
        }
    }

    /// Whether the verified certificate `who` is the one this pin names.
    pub fn matches(&self, who: &Identity) -> bool {
        match self {
            Pin::Hsa { hsa_id, issuer } => {
                who.hsa_id.as_deref() == Some(hsa_id.as_str())
                    && issuer.as_ref().is_none_or(|i| *i == who.issuer)
            }
            Pin::Key(fp) => *fp == who.key_sha256,
        }
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Hsa {
                hsa_id,
                issuer: None,
            } => write!(f, "hsa:{hsa_id}"),
            Pin::Hsa {
                hsa_id,
                issuer: Some(i),
            } => write!(f, "hsa:{hsa_id}@{i}"),
            Pin::Key(fp) => write!(f, "sha256:{fp}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(hsa: Option<&str>, key: &str) -> Identity {
        Identity {
            cn: "staff-2321000016-reader".into(),
            org: Some("2321000016".into()),
            role: None,
            hsa_id: hsa.map(str::to_string),
            issuer: "C=SE,O=invoice-hub,OU=ca,CN=dev CA".into(),
            serial: "01".into(),
            key_sha256: key.into(),
        }
    }

    #[test]
    fn pins_match_by_hsa_id_issuer_or_key_never_by_name() {
        let fp = "ab".repeat(32);
        let real = who(Some("SE2321000016-READER1"), &fp);
        let same_name_other_id = who(Some("SE2321000016-READER2"), &fp);
        let same_name_no_id = who(None, &"cd".repeat(32));

        let p: Pin = "hsa:SE2321000016-READER1".parse().unwrap();
        assert!(p.matches(&real));
        assert!(!p.matches(&same_name_other_id));
        assert!(!p.matches(&same_name_no_id));

        let p: Pin = "hsa:SE2321000016-READER1@C=SE, O=invoice-hub, OU=ca, CN=dev CA"
            .parse()
            .unwrap();
        assert!(p.matches(&real));
        let p: Pin = "hsa:SE2321000016-READER1@C=SE,CN=another CA"
            .parse()
            .unwrap();
        assert!(!p.matches(&real));

        let p: Pin = format!("sha256:{}", fp.to_uppercase()).parse().unwrap();
        assert!(p.matches(&real) && !p.matches(&same_name_no_id));
        assert_eq!(Pin::of(&real).to_string(), real.id());
    }

    #[test]
    fn a_bare_name_or_a_malformed_pin_is_refused_with_the_reason() {
        let e = "staff-2321000016-reader".parse::<Pin>().unwrap_err();
        assert!(matches!(e, PinError::BareName(_)));
        assert!(e.to_string().contains("common name"), "{e}");
        assert!(matches!(
            "hsa:SE 1".parse::<Pin>(),
            Err(PinError::BadHsaId(_))
        ));
        assert!(matches!(
            "sha256:abc".parse::<Pin>(),
            Err(PinError::BadFingerprint(_))
        ));
    }
}
