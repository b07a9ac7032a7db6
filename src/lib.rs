//! invoice-hub: the exchange that carries out-of-county invoice bases
//! (ProcessClaimSpecification 1.1) from the region that gave care to the patient's home region.
//!
//! The modules mirror the parts in `DESIGN.md`, in the order a basis flows through them:
//! [`claim`] (the document) → [`validate`] (safety, XSD, ÖR rules) → [`policy`] (the sending
//! region's standardised harm assessment) → [`audit`] (the tamper-evident disclosure log) →
//! [`store`] (the receiving region's restricted store), wired together by [`hub`] over
//! [`broker`], with [`pki`] for development certificates and [`cli`] for the commands.

pub mod audit;
pub mod broker;
pub mod claim;
pub mod cli;
pub(crate) mod db;
pub mod gen;
pub mod hub;
pub mod pki;
pub mod policy;
pub mod retry;
pub mod store;
pub mod tls;
pub mod validate;

pub use db::DbError;
