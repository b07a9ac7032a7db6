//! Who may do what at a store, decided from the verified client certificate alone.
//!
//! The TLS layer has already proven the certificate chains to the federation CA, is in date and
//! is not on the CRL; here the certificate's identity decides. The configuration names
//! certificates per permission by HSA-id or key fingerprint ([`Pin`]), never by common name, so a
//! second certificate with a listed name gets nothing. Readers and reviewers must in addition
//! belong to this store's region (their certificate's O is the store's organisation number): a
//! pin listed by mistake for another region's staff still gets nothing.

use crate::pki::{Identity, Pin};

use super::config::AccessConfig;

/// What a request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Deliver a basis (`PUT /v1/claims/{id}`).
    Write,
    /// List or read bases.
    Read,
    /// Read the access log.
    ReadAccessLog,
    /// Read a basis this region's policy withheld and decide on it (manual review).
    Assess,
    /// Send a signed head of a log this store witnesses: the writers (the hub).
    Witness,
    /// Read the heads this store holds as a witness: anyone the TLS layer lets in (a head holds
    /// no patient data; auditors and other regions compare it with the log).
    ReadWitness,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Write => "deliver bases",
            Action::Read => "read bases",
            Action::ReadAccessLog => "read the access log",
            Action::Assess => "review withheld bases",
            Action::Witness => "send signed heads to the witness",
            Action::ReadWitness => "read the witness's heads",
        }
    }
}

/// The permissions of one store.
#[derive(Debug, Clone)]
pub struct Authorizer {
    org: String,
    access: AccessConfig,
}

/// Why a request was refused; the text is safe to send back and to log (names only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not {action} at the store of {org}")]
pub struct Denied {
    pub who: String,
    pub action: &'static str,
    pub org: String,
}

impl Authorizer {
    pub fn new(org: &str, access: AccessConfig) -> Self {
        Authorizer {
            org: org.to_string(),
            access,
        }
    }

    pub fn check(&self, who: &Identity, action: Action) -> Result<(), Denied> {
        let same_region = who.org.as_deref() == Some(self.org.as_str());
        let listed = |pins: &std::collections::BTreeSet<Pin>| pins.iter().any(|p| p.matches(who));
        let allowed = match action {
            Action::Write => listed(&self.access.writers),
            Action::Read => same_region && listed(&self.access.readers),
            Action::ReadAccessLog => same_region && listed(&self.access.reviewers),
            Action::Assess => same_region && listed(&self.access.assessors),
            Action::Witness => listed(&self.access.writers),
            Action::ReadWitness => true,
        };
        if allowed {
            Ok(())
        } else {
            Err(Denied {
                who: who.to_string(),
                action: action.as_str(),
                org: self.org.clone(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::Role;

    fn id(cn: &str, org: &str, role: Role) -> Identity {
        Identity {
            cn: cn.into(),
            org: Some(org.into()),
            role: Some(role),
            hsa_id: Some(crate::pki::dev_hsa_id(role, org)),
            issuer: "C=SE,CN=dev CA".into(),
            serial: "01".into(),
            key_sha256: "00".repeat(32),
        }
    }

    fn pin(role: Role, org: &str) -> Pin {
        format!("hsa:{}", crate::pki::dev_hsa_id(role, org))
            .parse()
            .unwrap()
    }

    #[test]
    fn each_permission_needs_its_listing_and_readers_their_region() {
        let mut access = AccessConfig::default();
        access.writers.insert(pin(Role::Hub, "invoice-hub"));
        access.readers.insert(pin(Role::Reader, "2321000016"));
        // Listed by mistake: another region's reader.
        access.readers.insert(pin(Role::Reader, "2321000115"));
        access.reviewers.insert(pin(Role::Reviewer, "2321000016"));
        let a = Authorizer::new("2321000016", access);

        let hub = id("invoice-hub", "invoice-hub", Role::Hub);
        let staff = id("staff-2321000016-reader", "2321000016", Role::Reader);
        let other = id("staff-2321000115-reader", "2321000115", Role::Reader);
        let region = id("2321000016", "2321000016", Role::Region);
        let reviewer = id("reviewer-2321000016", "2321000016", Role::Reviewer);
        // The reader's name, another HSA-id: a second certificate the CA issued with that CN.
        let mut twin = staff.clone();
        twin.hsa_id = Some("SE2321000016-READER2".into());
        assert!(a.check(&twin, Action::Read).is_err());

        assert!(a.check(&hub, Action::Write).is_ok());
        assert!(a.check(&hub, Action::Read).is_err());
        assert!(a.check(&staff, Action::Read).is_ok());
        assert!(a.check(&staff, Action::Write).is_err());
        assert!(a.check(&staff, Action::ReadAccessLog).is_err());
        assert!(a.check(&other, Action::Read).is_err());
        assert!(a.check(&region, Action::Write).is_err());
        assert!(a.check(&reviewer, Action::ReadAccessLog).is_ok());
        assert!(a.check(&reviewer, Action::Read).is_err());
        assert!(a.check(&reviewer, Action::Assess).is_err());
        assert!(a.check(&staff, Action::Assess).is_err());
        let e = a.check(&region, Action::Write).unwrap_err().to_string();
        assert_eq!(
            e,
            "2321000016 [hsa:SE2321000016-REGION] (region, 2321000016) may not deliver bases at \
             the store of 2321000016"
        );
    }
}
