//! One entry of the disclosure log and its canonical byte encoding.
//!
//! The leaf hash of an entry is SHA-256(0x00 ‖ canonical bytes), so the encoding must be a pure
//! function of the value: canonical JSON with the fields in declaration order, no maps, times as
//! fixed-width UTC strings with microseconds, digests as lowercase hex. Decoding then encoding a
//! stored entry must give back the same bytes; `verify` checks that.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::{AuditError, Result};

/// What happened to a basis. `Accessed` is a staff read in a receiving region's store (its access
/// log is this same log type). `Reviewed` is a manual review of a withheld basis by the sending
/// region's official: its `actor` names the reviewer's certificate, its `action` the decision
/// (`release`, `release-with-removals`, `keep`), its `reason` theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    Received,
    Rejected,
    Withheld,
    Disclosed,
    Delivered,
    Accessed,
    Reviewed,
}

impl Event {
    /// Every event, in code order.
    pub const ALL: [Event; 7] = [
        Event::Received,
        Event::Rejected,
        Event::Withheld,
        Event::Disclosed,
        Event::Delivered,
        Event::Accessed,
        Event::Reviewed,
    ];

    /// The lowercase name used in JSON, CSV and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Received => "received",
            Event::Rejected => "rejected",
            Event::Withheld => "withheld",
            Event::Disclosed => "disclosed",
            Event::Delivered => "delivered",
            Event::Accessed => "accessed",
            Event::Reviewed => "reviewed",
        }
    }

    /// One byte for the event index key.
    pub(crate) fn code(self) -> u8 {
        match self {
            Event::Received => 1,
            Event::Rejected => 2,
            Event::Withheld => 3,
            Event::Disclosed => 4,
            Event::Delivered => 5,
            Event::Accessed => 6,
            Event::Reviewed => 7,
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Event {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Event::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown event {s:?} (one of received, rejected, withheld, disclosed, delivered, accessed, reviewed)"
                )
            })
    }
}

macro_rules! hex32 {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// Lowercase hex, as in JSON and on the command line.
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// Parse 64 hex digits.
            pub fn from_hex(s: &str) -> std::result::Result<Self, String> {
                let v = hex::decode(s.trim()).map_err(|e| format!("not hex: {e}"))?;
                let a: [u8; 32] = v
                    .try_into()
                    .map_err(|_| "expected 32 bytes (64 hex digits)".to_string())?;
                Ok($name(a))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                if s.len() != 64 || s.bytes().any(|b| b.is_ascii_uppercase()) {
                    return Err(serde::de::Error::custom("expected 64 lowercase hex digits"));
                }
                $name::from_hex(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex32!(
    Digest,
    "A SHA-256 of a document (as received, as disclosed)."
);
hex32!(
    PatientHash,
    "HMAC-SHA-256(deployment secret, normalised patient id): the only form in which a patient \
     appears in the log, so the log can be searched by patient without holding the id."
);

/// The policy decision behind a disclosure or a withholding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// Policy identifier (e.g. the sending region's policy file id).
    pub id: String,
    /// Version of that policy.
    pub version: String,
    /// The board decision (diarienummer) that adopted it.
    pub board_decision: String,
}

/// One logged event. A plain value: the log assigns the sequence number and time order, the
/// caller fills in what it knows. Free-text fields must never carry a patient id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// When it happened (UTC; stored with microsecond precision).
    #[serde(with = "time_micros")]
    pub time: DateTime<Utc>,
    pub event: Event,
    /// The invoice basis id.
    pub basis_id: String,
    /// Sender (care-giving region) organisation number.
    pub sender: String,
    /// Receiver (home region) organisation number.
    pub receiver: String,
    /// One keyed hash per patient on the basis.
    pub patients: Vec<PatientHash>,
    /// SHA-256 of the basis as received.
    pub received_sha256: Option<Digest>,
    /// SHA-256 of the basis as disclosed (after the policy removed elements).
    pub disclosed_sha256: Option<Digest>,
    /// The policy that decided (disclosed, withheld).
    pub policy: Option<PolicyRef>,
    /// Policy or validation rule ids that matched (e.g. "ÖR12", "policy:psychiatry").
    pub matched_rules: Vec<String>,
    /// Element paths removed before disclosure.
    pub removed_paths: Vec<String>,
    /// The receiving store's receipt, verbatim as it answered (delivered).
    pub receipt: Option<String>,
    /// The hub (or store) instance that wrote this entry.
    pub instance: String,
    /// Who acted: for `accessed`, the reader's certificate subject.
    pub actor: Option<String>,
    /// What was done, e.g. "get" or "list" for `accessed`.
    pub action: Option<String>,
    /// A short reason (rejection rule and path, why withheld). No patient data.
    pub reason: Option<String>,
}

impl Record {
    /// A record with the required fields and everything optional empty.
    pub fn new(
        time: DateTime<Utc>,
        event: Event,
        basis_id: impl Into<String>,
        sender: impl Into<String>,
        receiver: impl Into<String>,
        instance: impl Into<String>,
    ) -> Self {
        Record {
            time: truncate_micros(time),
            event,
            basis_id: basis_id.into(),
            sender: sender.into(),
            receiver: receiver.into(),
            patients: Vec::new(),
            received_sha256: None,
            disclosed_sha256: None,
            policy: None,
            matched_rules: Vec::new(),
            removed_paths: Vec::new(),
            receipt: None,
            instance: instance.into(),
            actor: None,
            action: None,
            reason: None,
        }
    }

    /// A staff read in a receiving region's store (its access log): `actor` is the reader's
    /// certificate subject, `action` what was read (e.g. "get", "list").
    pub fn accessed(
        time: DateTime<Utc>,
        basis_id: impl Into<String>,
        sender: impl Into<String>,
        receiver: impl Into<String>,
        instance: impl Into<String>,
        actor: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        let mut r = Record::new(time, Event::Accessed, basis_id, sender, receiver, instance);
        r.actor = Some(actor.into());
        r.action = Some(action.into());
        r
    }

    /// Time in microseconds since the epoch, as indexed.
    pub fn time_micros(&self) -> i64 {
        self.time.timestamp_micros()
    }
}

/// A record with its place in the log: what a leaf hash covers. The sequence number is inside the
/// hashed bytes so that moving or swapping entries in storage is caught entry by entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    pub record: Record,
}

impl Entry {
    /// The canonical bytes (the leaf hash input after the 0x00 prefix).
    pub fn encode(&self) -> Vec<u8> {
        // Serialising a struct of strings, numbers, vectors and options cannot fail.
        serde_json::to_vec(self).expect("entry serialises")
    }

    /// Decode stored bytes, insisting they are canonical (re-encoding gives the same bytes).
    pub fn decode(bytes: &[u8]) -> Result<Entry> {
        let e: Entry =
            serde_json::from_slice(bytes).map_err(|err| AuditError::decode("log entry", err))?;
        if e.encode() != bytes {
            return Err(AuditError::decode(
                format!("log entry {}", e.seq),
                "bytes are not in canonical form",
            ));
        }
        Ok(e)
    }

    /// RFC 9162 leaf hash of this entry.
    pub fn leaf_hash(&self) -> super::Hash {
        super::merkle::leaf_hash(&self.encode())
    }
}

/// Drop sub-microsecond precision so that encode → decode → encode is the identity.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// Render a time as the log does: `2026-11-23T14:58:48.123456Z`.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parse an RFC 3339 time (any offset) to UTC.
pub fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

mod time_micros {
    use super::*;

    pub(super) fn serialize<S: Serializer>(
        t: &DateTime<Utc>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&format_time(&truncate_micros(*t)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<DateTime<Utc>, D::Error> {
        let s = String::deserialize(d)?;
        parse_time(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut r = Record::new(
            parse_time("2026-03-01T10:00:00.123456789Z").unwrap(),
            Event::Disclosed,
            "B-1",
            "232100-0016",
            "232100-0164",
            "hub-a",
        );
        r.patients.push(PatientHash([7; 32]));
        r.received_sha256 = Some(Digest([1; 32]));
        r.policy = Some(PolicyRef {
            id: "p".into(),
            version: "1".into(),
            board_decision: "RS 2026/1".into(),
        });
        r.matched_rules = vec!["ÖR1".into()];
        r
    }

    #[test]
    fn encoding_round_trips_byte_for_byte() {
        let e = Entry {
            seq: 3,
            record: sample(),
        };
        let bytes = e.encode();
        let back = Entry::decode(&bytes).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.record.time.timestamp_subsec_micros(), 123456);
        assert!(String::from_utf8(bytes)
            .unwrap()
            .starts_with("{\"seq\":3,\"record\":{\"time\":\"2026-03-01T10:00:00.123456Z\""));
    }

    #[test]
    fn non_canonical_bytes_are_refused() {
        let e = Entry {
            seq: 3,
            record: sample(),
        };
        let text = String::from_utf8(e.encode())
            .unwrap()
            .replace(",\"", ", \"");
        assert!(Entry::decode(text.as_bytes()).is_err());
    }

    #[test]
    fn event_names_parse() {
        for e in Event::ALL {
            assert_eq!(e.as_str().parse::<Event>().unwrap(), e);
        }
        assert!("sent".parse::<Event>().is_err());
    }
}
