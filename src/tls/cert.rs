//! Which certificate a peer presented, in the terms revocation and permissions use: issuer and
//! serial number (what a CRL lists), the subject's SERIALNUMBER (an HSA-id, what the national
//! platform identifies callers by) and the SHA-256 of the public key. Names and digests only:
//! a [`CertId`] may be logged; the certificate may not.

use sha2::Digest;

/// A verified certificate's identifying facts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CertId {
    /// The subject's SERIALNUMBER (OID 2.5.4.5): the holder's HSA-id.
    pub hsa_id: Option<String>,
    /// The issuer's distinguished name, normalised by [`normalise_dn`].
    pub issuer: String,
    /// The certificate's serial number, lowercase hex without leading zero octets.
    pub serial: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, lowercase hex.
    pub key_sha256: String,
}

impl CertId {
    /// Reads a DER certificate (not verified here: call it on what the TLS layer verified).
    pub fn from_der(der: &[u8]) -> Result<CertId, String> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
        let hsa_id = cert
            .subject()
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string);
        Ok(CertId {
            hsa_id,
            issuer: normalise_dn(&cert.issuer().to_string()),
            serial: serial_hex(cert.raw_serial()),
            key_sha256: hex::encode(sha2::Sha256::digest(cert.public_key().raw)),
        })
    }

    /// The identity as permissions name it and logs record it: `hsa:<HSA-id>` when the subject
    /// has a SERIALNUMBER, else `sha256:<public key digest>`.
    pub fn id(&self) -> String {
        match &self.hsa_id {
            Some(h) => format!("hsa:{h}"),
            None => format!("sha256:{}", self.key_sha256),
        }
    }
}

/// A certificate serial as CRLs and [`CertId::serial`] write it: lowercase hex, no leading zero
/// octets (DER adds one to keep a serial positive).
pub fn serial_hex(raw: &[u8]) -> String {
    let start = raw.iter().position(|b| *b != 0).unwrap_or(raw.len());
    hex::encode(&raw[start..])
}

/// A distinguished name in one spelling, so names written in a configuration and names read from
/// certificates compare: RDNs separated by `,` without surrounding spaces, attribute types upper
/// case (`C=SE,O=invoice-hub,OU=ca,CN=…`).
pub fn normalise_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| match rdn.trim().split_once('=') {
            Some((k, v)) => format!("{}={}", k.trim().to_ascii_uppercase(), v.trim()),
            None => rdn.trim().to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinguished_names_compare_in_one_spelling_and_serials_lose_leading_zeros() {
        assert_eq!(
            normalise_dn("c=SE, O=invoice-hub,  CN=dev CA"),
            "C=SE,O=invoice-hub,CN=dev CA"
        );
        assert_eq!(serial_hex(&[0, 0x81, 0x02]), "8102");
    }
}
