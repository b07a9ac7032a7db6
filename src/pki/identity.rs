//! The naming convention of the federation's certificates, in both directions, and what in a
//! certificate is its *identity*.
//!
//! A subject is `C=SE, O=<organisation>, OU=<role>, SERIALNUMBER=<HSA-id>, CN=<name>`: the
//! organisation is a region's organisation number (or `invoice-hub` for the parties the
//! federation runs itself), the role says what the holder is, the common name who, for people.
//!
//! Names are for people; they are not identities. In SITHS one CA issues certificates to
//! thousands of people and systems, and nothing stops it from issuing two with the same CN. The
//! identity of a certificate is its subject's `SERIALNUMBER` (an HSA-id, which the HSA catalogue
//! hands out once, and which the national platform uses to identify callers) or, for a
//! certificate without one, the SHA-256 of its public key. [`Identity::id`] is that identity as
//! logs record it; [`super::Pin`] is how a configuration names one.

use std::fmt;

use crate::tls::cert::CertId;

/// The organisation field of the parties the federation itself runs (CA, broker, hub, auditor).
pub const FEDERATION_ORG: &str = "invoice-hub";
/// The common name of the hub's client certificate; the broker user of the routing core.
pub const HUB_CN: &str = "invoice-hub";

/// What the holder of a certificate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Ca,
    /// The AMQPS server.
    Broker,
    /// The routing core: publishes outcomes, writes to stores.
    Hub,
    /// A region as a client of the broker (sending and receiving).
    Region,
    /// A receiving region's store (server).
    Store,
    /// A person at a region allowed to read invoice bases from its store.
    Reader,
    /// A person at a region allowed to read its store's access log.
    Reviewer,
    /// Someone allowed to query and verify the disclosure log.
    Auditor,
    /// The SOAP gateway: a server to the regions' systems, a broker client that submits on
    /// their behalf.
    Gateway,
    /// The national platform (SKLTP VP), which calls on behalf of others and names them in
    /// `x-rivta-original-serviceconsumer-hsaid`.
    Platform,
}

impl Role {
    /// The value of the OU attribute for this role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ca => "ca",
            Role::Broker => "broker",
            Role::Hub => "hub",
            Role::Region => "region",
            Role::Store => "store",
            Role::Reader => "reader",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Gateway => "gateway",
            Role::Platform => "platform",
        }
    }

    /// The role named by an OU value, if it is one of ours.
    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Ca,
            Role::Broker,
            Role::Hub,
            Role::Region,
            Role::Store,
            Role::Reader,
            Role::Reviewer,
            Role::Auditor,
            Role::Gateway,
            Role::Platform,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who presented a certificate, as read from it. Holds names, the serial number and a digest of
/// the public key, never the certificate or key material, so it may appear in logs and in the
/// store's access log (by [`Identity::id`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub cn: String,
    /// The O attribute: a region's organisation number, or [`FEDERATION_ORG`].
    pub org: Option<String>,
    /// The OU attribute, if it names one of our roles.
    pub role: Option<Role>,
    /// The subject's SERIALNUMBER (OID 2.5.4.5): the holder's HSA-id.
    pub hsa_id: Option<String>,
    /// The issuer's distinguished name, normalised by [`crate::tls::cert::normalise_dn`].
    pub issuer: String,
    /// The certificate's serial number, lowercase hex without leading zero octets: with the
    /// issuer, what a CRL names.
    pub serial: String,
    /// SHA-256 of the certificate's SubjectPublicKeyInfo, lowercase hex.
    pub key_sha256: String,
}

impl Identity {
    /// Reads the subject of a DER certificate. The certificate's signature and validity are not
    /// checked here: call this only on a certificate the TLS layer has already verified.
    pub fn from_der(der: &[u8]) -> Result<Identity, super::PkiError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| super::PkiError::Certificate(e.to_string()))?;
        let subject = cert.subject();
        let cn = first(subject.iter_common_name())
            .ok_or_else(|| super::PkiError::Certificate("subject has no common name".into()))?;
        let id = CertId::from_der(der).map_err(super::PkiError::Certificate)?;
        Ok(Identity {
            cn,
            org: first(subject.iter_organization()),
            role: first(subject.iter_organizational_unit())
                .as_deref()
                .and_then(Role::parse),
            hsa_id: id.hsa_id,
            issuer: id.issuer,
            serial: id.serial,
            key_sha256: id.key_sha256,
        })
    }

    /// The identity as permissions name it and logs record it: `hsa:<HSA-id>` when the subject
    /// has a SERIALNUMBER, else `sha256:<public key digest>` ([`CertId::id`]). Two certificates
    /// that read the same here are the same holder (a renewal keeps the HSA-id); two that differ
    /// never read as one, whatever their common names say.
    pub fn id(&self) -> String {
        crate::tls::cert::identity(self.hsa_id.as_deref(), &self.key_sha256)
    }
}

/// The first value of an attribute, as text.
fn first<'a>(
    mut it: impl Iterator<Item = &'a x509_parser::x509::AttributeTypeAndValue<'a>>,
) -> Option<String> {
    it.next()
        .and_then(|a| a.as_str().ok())
        .map(|s| s.to_string())
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{}]", self.cn, self.id())?;
        match (&self.role, &self.org) {
            (Some(r), Some(o)) => write!(f, " ({r}, {o})"),
            (Some(r), None) => write!(f, " ({r})"),
            (None, Some(o)) => write!(f, " ({o})"),
            (None, None) => Ok(()),
        }
    }
}

/// The subject a certificate of `role` for `cn` at `org` gets, with the holder's HSA-id as its
/// SERIALNUMBER when it has one (the CA's own subject has none).
pub fn subject(role: Role, org: &str, cn: &str, hsa_id: Option<&str>) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    // X.520 makes countryName a PrintableString. Erlang (the broker) re-encodes a CRL's issuer
    // before checking its signature, and a UTF8String country there makes every CRL of the CA
    // "invalid_signature".
    dn.push(
        rcgen::DnType::CountryName,
        rcgen::DnValue::PrintableString("SE".try_into().expect("SE is printable")),
    );
    dn.push(rcgen::DnType::OrganizationName, org);
    dn.push(rcgen::DnType::OrganizationalUnitName, role.as_str());
    if let Some(h) = hsa_id {
        // OID 2.5.4.5, serialNumber: rcgen has no name for it. RFC 5280 makes it a
        // PrintableString, and Erlang's TLS (the broker) refuses a certificate with any other
        // string type there; an HSA-id (letters, digits, '-') always is one.
        let value = match rcgen::string::PrintableString::try_from(h) {
            Ok(p) => rcgen::DnValue::PrintableString(p),
            Err(_) => rcgen::DnValue::Utf8String(h.to_string()),
        };
        dn.push(rcgen::DnType::CustomDnType(vec![2, 5, 4, 5]), value);
    }
    dn.push(rcgen::DnType::CommonName, cn);
    dn
}

/// The organisation part of the development HSA-ids of the parties the federation runs itself
/// (a real deployment has the operator's organisation number here).
pub const FEDERATION_HSA_ORG: &str = "0000000000";

/// The HSA-id `pki dev` gives the holder of a certificate of `role` at `org`: `SE<org>-<ROLE>`
/// (people get a number: `SE<org>-READER1`). The form is the catalogue's (`SE`, the
/// organisation number, a local part); the values are made up for development.
pub fn dev_hsa_id(role: Role, org: &str) -> String {
    let org = if org == FEDERATION_ORG {
        FEDERATION_HSA_ORG
    } else {
        org
    };
    let local = match role {
        Role::Reader => "READER1".to_string(),
        Role::Reviewer => "REVIEWER1".to_string(),
        r => r.as_str().to_ascii_uppercase(),
    };
    format!("SE{org}-{local}")
}

/// The common name of a region's reader certificate made by `pki dev`: it names a (development)
/// person and the region, so the store's configuration and its access log read plainly.
pub fn reader_cn(org: &str) -> String {
    format!("staff-{org}-reader")
}

/// The common name of a region's reviewer certificate made by `pki dev`.
pub fn reviewer_cn(org: &str) -> String {
    format!("reviewer-{org}")
}

/// The common name of a region's store (server) certificate.
pub fn store_cn(org: &str) -> String {
    format!("store-{org}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_ou_value() {
        for r in [
            Role::Ca,
            Role::Broker,
            Role::Hub,
            Role::Region,
            Role::Store,
            Role::Reader,
            Role::Reviewer,
            Role::Auditor,
        ] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn development_hsa_ids_name_the_organisation_and_the_role() {
        assert_eq!(dev_hsa_id(Role::Hub, FEDERATION_ORG), "SE0000000000-HUB");
        assert_eq!(
            dev_hsa_id(Role::Reader, "2321000016"),
            "SE2321000016-READER1"
        );
    }
}
