//! The disclosure log: an append-only, tamper-evident, durable record of what the hub did with
//! each invoice basis (received, rejected, withheld, reviewed, disclosed, delivered) — and, reused by a
//! receiving region's store, of every staff read (accessed).
//!
//! Why it looks like this: auditors must be able to answer, years later and without trusting the
//! operators, which bases about a patient went to whom, when and under which policy, and must be
//! able to prove that the log was not edited (HSLF-FS 2016:40, 4 kap. 9 §). So:
//!
//! - every entry is a leaf of an RFC 9162 Merkle tree ([`merkle`]), whose root is signed with
//!   Ed25519 at checkpoints ([`head`]); inclusion and consistency proofs ([`proof`]) can be checked
//!   offline with only the public key;
//! - the library has no update or delete operation; an append returns only once its transaction
//!   is on the disk ([`crate::db`]; [`log::AuditLog::append`], [`log::AuditLog::append_batch`] for group commit);
//! - patients appear only as keyed hashes ([`keys::PatientKey`]), so the log can be asked "who
//!   received data about this person" without holding the id in clear;
//! - queries go through index tables ([`index`]), never through a scan of the log;
//! - [`verify`] recomputes everything and names the first bad entry.

pub mod error;
pub mod evidence;
pub mod export;
pub mod head;
pub mod index;
pub mod keys;
pub mod log;
pub mod merkle;
pub mod proof;
pub mod record;
pub mod review;
pub(crate) mod seal;
pub mod set;
pub mod verify;
pub mod witness;

pub use error::AuditError;
pub use evidence::{check_evidence, EvidenceError, Proved};
pub use head::SignedTreeHead;
pub use index::{Query, QueryResult};
pub use keys::{LogPublicKey, LogSigningKey, PatientKey};
pub use log::{Appended, AuditLog, LogConfig};
pub use merkle::Hash;
pub use proof::{ConsistencyBundle, InclusionBundle};
pub use record::{Digest, Entry, Event, PatientHash, PolicyRef, Record};
pub use set::{LogSet, SetEntry, SetQueryResult};
pub use verify::{Problem, VerifyOptions, VerifyReport};

/// Results of this module.
pub type Result<T, E = AuditError> = std::result::Result<T, E>;
