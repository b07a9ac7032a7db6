//! `pki dev`: a whole development federation in one directory.
//!
//! File names are a contract: `broker/ctl` reads `ca.pem`, `broker.pem`/`.key`, `hub.pem` and
//! `region-<org>.pem`; the tests and the example store configurations read the rest.
//!
//! | file | role | subject CN |
//! |---|---|---|
//! | `ca.pem`, `ca.key` | federation CA | `invoice-hub development federation CA` |
//! | `broker.pem` | AMQPS server (SAN localhost, 127.0.0.1) | `broker` |
//! | `hub.pem` | routing core (client) | `invoice-hub` |
//! | `region-<org>.pem` | a region at the broker (client) | `<org>` |
//! | `store-<org>.pem` | the region's store (server, SAN localhost, 127.0.0.1) | `store-<org>` |
//! | `staff-<org>.pem` | a reader at the region (client) | `staff-<org>-reader` |
//! | `reviewer-<org>.pem` | may read the region's store access log (client) | `reviewer-<org>` |
//! | `auditor.pem` | disclosure log auditor (client) | `auditor` |
//! | `gateway.pem` | the SOAP gateway (server to callers, SAN localhost, 127.0.0.1; client of the broker) | `invoice-hub gateway` |
//! | `platform.pem` | the national platform (client; may name the original caller) | `national platform (development)` |
//! | `crl.pem` | the CA's revocation list (`pki revoke` adds to it) | — |
//!
//! Every certificate's subject has a SERIALNUMBER, the holder's development HSA-id
//! ([`dev_hsa_id`]: `SE<org>-<ROLE>`, `SE0000000000-HUB` for the federation's own parties): that,
//! not the CN, is what configurations name it by.
//!
//! With `expired`, each region also gets `staff-<org>-expired.pem`: the reader's name, expired a
//! year ago, so a test can show expiry alone refuses it.

use std::path::{Path, PathBuf};

use super::ca::{write_file, write_pair, Ca, Subject, Usage, Validity};
use super::identity::{dev_hsa_id, reader_cn, reviewer_cn, store_cn, Role, FEDERATION_ORG, HUB_CN};
use super::revoke::ensure_crl;
use super::PkiError;
use crate::claim::regions::{region, Region};

/// The CA's common name.
pub const CA_CN: &str = "invoice-hub development federation CA";

/// What `pki dev` makes.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// County codes or organisation numbers.
    pub regions: Vec<String>,
    /// Make a new CA even if the directory holds one (which invalidates every certificate of the
    /// old one).
    pub new_ca: bool,
    /// Also write an expired reader certificate per region.
    pub expired: bool,
    /// Validity of the leaf certificates, in days (the CA gets ten times as long).
    pub days: u32,
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            regions: Vec::new(),
            new_ca: false,
            expired: false,
            days: 365,
        }
    }
}

/// One certificate written.
#[derive(Debug, Clone)]
pub struct Written {
    /// The certificate file.
    pub cert: PathBuf,
    pub role: Role,
    pub org: String,
    pub cn: String,
    /// The subject's SERIALNUMBER: what permissions name it by.
    pub hsa_id: String,
    pub validity: Validity,
}

/// What `generate` did.
#[derive(Debug)]
pub struct DevPki {
    /// The CA already in the directory was used (its certificates stay valid).
    pub ca_reused: bool,
    pub written: Vec<Written>,
}

/// Resolves county codes and organisation numbers to regions (deduplicated, order kept).
pub fn resolve_regions(list: &[String]) -> Result<Vec<&'static Region>, PkiError> {
    let mut out: Vec<&'static Region> = Vec::new();
    for item in list.iter().flat_map(|s| s.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let r = region(item).ok_or_else(|| PkiError::UnknownRegion(item.to_string()))?;
        if !out.iter().any(|o| o.org == r.org) {
            out.push(r);
        }
    }
    if out.is_empty() {
        return Err(PkiError::NoRegions);
    }
    Ok(out)
}

/// Makes (or reuses) the CA in `out` and writes every certificate for `opts.regions`.
#[expect(
    clippy::too_many_lines,
    reason = "every certificate of the development PKI, one after the other"
)]
pub fn generate(out: &Path, opts: &DevOptions) -> Result<DevPki, PkiError> {
    let regions = resolve_regions(&opts.regions)?;
    std::fs::create_dir_all(out).map_err(|e| PkiError::io(out, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        // Others (broker/ctl, the rabbitmq user) must be able to enter and read certificates;
        // keys stay 0600.
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| PkiError::io(out, e))?;
    }
    let have_ca = out.join("ca.pem").exists() && out.join("ca.key").exists();
    let ca_reused = have_ca && !opts.new_ca;
    let ca = if ca_reused {
        Ca::load(out)?
    } else {
        let ca = Ca::generate(CA_CN, opts.days.saturating_mul(10))?;
        write_file(&out.join("ca.pem"), ca.cert_pem(), 0o644)?;
        write_file(&out.join("ca.key"), ca.key_pem(), 0o600)?;
        ca
    };
    ensure_crl(out, &ca)?;
    let mut written = Vec::new();
    let valid = Validity::days(opts.days);
    let mut issue = |stem: &str,
                     role: Role,
                     org: &str,
                     cn: &str,
                     usage: Usage,
                     validity: Validity|
     -> Result<(), PkiError> {
        let hsa_id = dev_hsa_id(role, org);
        let who = Subject {
            role,
            org,
            cn,
            hsa_id: Some(&hsa_id),
        };
        let issued = ca.issue(&who, usage, validity)?;
        write_pair(out, stem, &issued)?;
        written.push(Written {
            cert: out.join(format!("{stem}.pem")),
            role,
            org: org.to_string(),
            cn: cn.to_string(),
            hsa_id,
            validity,
        });
        Ok(())
    };
    let fed = FEDERATION_ORG;
    issue(
        "broker",
        Role::Broker,
        fed,
        "broker",
        Usage::LocalServer,
        valid,
    )?;
    issue("hub", Role::Hub, fed, HUB_CN, Usage::Client, valid)?;
    issue(
        "gateway",
        Role::Gateway,
        fed,
        "invoice-hub gateway",
        Usage::LocalServer,
        valid,
    )?;
    issue(
        "platform",
        Role::Platform,
        fed,
        "national platform (development)",
        Usage::Client,
        valid,
    )?;
    issue(
        "auditor",
        Role::Auditor,
        fed,
        "auditor",
        Usage::Client,
        valid,
    )?;
    for r in &regions {
        let org = r.org;
        issue(
            &format!("region-{org}"),
            Role::Region,
            org,
            org,
            Usage::Client,
            valid,
        )?;
        issue(
            &format!("store-{org}"),
            Role::Store,
            org,
            &store_cn(org),
            Usage::LocalServer,
            valid,
        )?;
        issue(
            &format!("staff-{org}"),
            Role::Reader,
            org,
            &reader_cn(org),
            Usage::Client,
            valid,
        )?;
        issue(
            &format!("reviewer-{org}"),
            Role::Reviewer,
            org,
            &reviewer_cn(org),
            Usage::Client,
            valid,
        )?;
        if opts.expired {
            issue(
                &format!("staff-{org}-expired"),
                Role::Reader,
                org,
                &reader_cn(org),
                Usage::Client,
                Validity::expired(),
            )?;
        }
    }
    Ok(DevPki { ca_reused, written })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_resolve_by_county_or_org_and_bad_ones_are_named() {
        let r = resolve_regions(&["01,13".into(), "2321000131".into(), "01".into()]).unwrap();
        let orgs: Vec<_> = r.iter().map(|r| r.org).collect();
        assert_eq!(orgs, ["2321000016", "2321000115", "2321000131"]);
        let e = resolve_regions(&["01,99".into()]).unwrap_err();
        assert!(e.to_string().contains("'99'"), "{e}");
        assert!(matches!(resolve_regions(&[]), Err(PkiError::NoRegions)));
    }
}
