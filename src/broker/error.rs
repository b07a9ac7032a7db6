//! What can go wrong talking to the broker, split by what the caller should do about it:
//! wait and retry ([`BrokerError::is_transient`]) or stop and tell a person.

use std::path::PathBuf;

/// A broker error. Messages name files and queues but never a certificate's contents or a key.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("cannot connect to {url}: {source}")]
    Connect { url: String, source: lapin::Error },
    #[error("cannot connect to {url}: no answer in {secs} s")]
    Unreachable { url: String, secs: u64 },
    #[error("the broker refused: {0}")]
    Refused(lapin::Error),
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("gave up after {attempts} attempts: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error("message {message_id} was returned as unroutable ({reply}): is the broker's topology loaded?")]
    Unroutable { message_id: String, reply: String },
    #[error("not confirmed: {0}")]
    Unconfirmed(String),
    #[error("not a basis: {0}")]
    NotABasis(String),
    #[error("the broker did not take the acknowledgement in {secs} s (connection lost?); the message will come again")]
    NotSettled { secs: u64 },
}

impl BrokerError {
    /// True when waiting and trying again can help (broker restarting, network gone, nack), false
    /// when the broker said no on purpose (bad certificate, permissions, spoofed user) or the
    /// input is wrong: retrying those only hides the problem.
    pub fn is_transient(&self) -> bool {
        match self {
            BrokerError::Connect { source, .. } | BrokerError::Amqp(source) => {
                is_transient_lapin(source)
            }
            BrokerError::Unroutable { .. }
            | BrokerError::Unconfirmed(_)
            | BrokerError::Unreachable { .. }
            | BrokerError::NotSettled { .. } => true,
            _ => false,
        }
    }
}

/// Classifies a lapin error: refusals (ACCESS_REFUSED, PRECONDITION_FAILED, NOT_FOUND, TLS
/// rejections) are permanent; lost connections are transient.
pub fn is_transient_lapin(e: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
    match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => !matches!(
            amqp.kind(),
            AMQPErrorKind::Soft(
                AMQPSoftError::ACCESSREFUSED
                    | AMQPSoftError::PRECONDITIONFAILED
                    | AMQPSoftError::NOTFOUND
            ) | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED | AMQPHardError::NOTIMPLEMENTED)
        ),
        lapin::ErrorKind::IOError(io) => !matches!(
            io.kind(),
            std::io::ErrorKind::InvalidData
                | std::io::ErrorKind::InvalidInput
                | std::io::ErrorKind::PermissionDenied
        ),
        lapin::ErrorKind::AuthProviderError(_) => false,
        _ => e.can_be_recovered(),
    }
}

/// The AMQP reply code name of a refusal (`ACCESS_REFUSED`, `PRECONDITION_FAILED`, …), if the
/// error is one. Tests and the CLI use it to say which rule the broker applied.
pub fn amqp_reply(e: &lapin::Error) -> Option<String> {
    match e.kind() {
        lapin::ErrorKind::ProtocolError(amqp) => Some(amqp.kind().to_string()),
        _ => None,
    }
}
