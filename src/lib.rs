//! invoice-hub: the exchange that carries out-of-county invoice bases
//! (ProcessClaimSpecification 1.1) from the region that gave care to the patient's home region.
//!
//! The modules mirror the parts in `DESIGN.md`, in the order a basis flows through them:
//! [`claim`] (the document) → [`validate`] (safety, XSD, ÖR rules) → [`policy`] (the sending
//! region's standardised harm assessment) → [`audit`] (the tamper-evident disclosure log) →
//! [`store`] (the receiving region's restricted store), wired together by [`hub`] over
//! [`broker`], with [`gateway`] as the
//! national SOAP contract's front door, [`rivta`] the contract on the wire and [`witness`] a
//! witness of the disclosure log that runs alone, with [`pki`]
//! for development certificates and [`cli`] for the commands.
//!
//! Under them, each owning one piece of plumbing: `db` (the embedded database the log and the
//! store keep their data in: redb, durable commits, the only module that names the engine),
//! [`tls`] (rustls configuration and PEM files, for every part that speaks TLS), `net` (the
//! HTTPS edge of the store and the gateway: connections, identities, limits) and [`retry`]
//! (the one backoff and retry loop), [`clock`] (now, and today as the Swedish date), `cpu` (the
//! threads, one per core, that do the CPU work on a basis). Beside
//! them, [`synth`] generates realistic bases for tests, benchmarks and demonstrations (`invoice-hub gen`); nothing on the exchange's path uses it.

// A library function over 80 lines (clippy.toml) needs its reason written above it, or a split.
// Only here, not in Cargo.toml: a test, a benchmark or an example tells one scenario from start
// to end, and splitting it would hide the story.
#![warn(clippy::too_many_lines)]

pub mod audit;
pub mod broker;
pub mod claim;
pub mod cli;
pub mod clock;
pub(crate) mod cpu;
pub(crate) mod db;
pub mod gateway;
pub mod hub;
pub mod net;
pub mod pki;
pub mod policy;
pub mod retry;
pub mod rivta;
pub mod store;
pub mod synth;
pub mod tls;
pub mod validate;
pub mod witness;

pub use db::DbError;
