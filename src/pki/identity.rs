//! The naming convention of the federation's certificates, in both directions.
//!
//! A subject is `C=SE, O=<organisation>, OU=<role>, CN=<name>`: the organisation is a region's
//! organisation number (or `invoice-hub` for the parties the federation runs itself), the role
//! says what the holder is, the common name who. The broker logs users in by common name, so a
//! region's CN is its organisation number and the hub's is `invoice-hub`. The store authorises by
//! CN listed in its configuration and checks the organisation of readers against its own.

use std::fmt;

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

/// Who presented a certificate, as read from its subject. Holds names only (no key material), so
/// it may appear in logs and in the store's access log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Identity {
    pub cn: String,
    /// The O attribute: a region's organisation number, or [`FEDERATION_ORG`].
    pub org: Option<String>,
    /// The OU attribute, if it names one of our roles.
    pub role: Option<Role>,
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
        Ok(Identity {
            cn,
            org: first(subject.iter_organization()),
            role: first(subject.iter_organizational_unit())
                .as_deref()
                .and_then(Role::parse),
        })
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
        write!(f, "{}", self.cn)?;
        match (&self.role, &self.org) {
            (Some(r), Some(o)) => write!(f, " ({r}, {o})"),
            (Some(r), None) => write!(f, " ({r})"),
            (None, Some(o)) => write!(f, " ({o})"),
            (None, None) => Ok(()),
        }
    }
}

/// The subject a certificate of `role` for `cn` at `org` gets.
pub fn subject(role: Role, org: &str, cn: &str) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, "SE");
    dn.push(rcgen::DnType::OrganizationName, org);
    dn.push(rcgen::DnType::OrganizationalUnitName, role.as_str());
    dn.push(rcgen::DnType::CommonName, cn);
    dn
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
}
