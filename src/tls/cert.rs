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
        identity(self.hsa_id.as_deref(), &self.key_sha256)
    }
}

/// The one spelling of a certificate's identity: `hsa:<HSA-id>`, else `sha256:<key digest>`.
pub fn identity(hsa_id: Option<&str>, key_sha256: &str) -> String {
    match hsa_id {
        Some(h) => format!("hsa:{h}"),
        None => format!("sha256:{key_sha256}"),
    }
}

/// The broker user a certificate logs in as with RabbitMQ's
/// `ssl_cert_login_from = distinguished_name`: the subject in RFC 4514 order (the last RDN
/// first), with RabbitMQ's attribute names, e.g.
/// `CN=2321000016,SERIALNUMBER=SE2321000016-REGION,OU=region,O=2321000016,C=SE`. The broker
/// refuses a message whose `user_id` is not exactly this.
pub fn broker_user(der: &[u8]) -> Result<String, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter() {
        let mut parts = Vec::new();
        for a in rdn.iter() {
            let name = broker_attribute(&a.attr_type().to_id_string()).ok_or_else(|| {
                format!(
                    "the subject has an attribute ({}) RabbitMQ has no name for",
                    a.attr_type()
                )
            })?;
            let value = a
                .as_str()
                .map_err(|_| format!("the subject's {name} is not a string"))?;
            parts.push(format!("{name}={}", escape_rdn_value(value)));
        }
        rdns.push(parts.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// RabbitMQ's names for subject attributes (`rabbit_cert_info:format_rdn`).
fn broker_attribute(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "SERIALNUMBER",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "TITLE",
        "2.5.4.42" => "GIVENNAME",
        "2.5.4.43" => "INITIALS",
        "2.5.4.44" => "GENERATIONQUALIFIER",
        "2.5.4.65" => "PSEUDONYM",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "EMAILADDRESS",
        _ => return None,
    })
}

/// RFC 4514 escaping of an attribute value.
fn escape_rdn_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for (i, c) in v.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && (c == '#' || c == ' '))
            || (i + 1 == v.chars().count() && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The organisation (`O=`) of a broker user written by [`broker_user`], when it is a region's
/// ten-digit organisation number: the sending region of a message whose `user_id` the broker
/// vouched for. The broker lets in only users an operator created for a region's certificate,
/// so the organisation named in that user is the region's.
pub fn broker_user_org(user: &str) -> Option<&str> {
    user.split(',')
        .filter_map(|rdn| rdn.strip_prefix("O="))
        .find(|o| o.len() == 10 && o.bytes().all(|b| b.is_ascii_digit()))
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
        assert_eq!(escape_rdn_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(
            broker_user_org(
                "CN=2321000016,SERIALNUMBER=SE2321000016-REGION,OU=region,O=2321000016,C=SE"
            ),
            Some("2321000016")
        );
        assert_eq!(broker_user_org("CN=invoice-hub,O=invoice-hub,C=SE"), None);
    }
}
