//! The exchange's AMQP side: how a region, the hub and the tests talk to RabbitMQ.
//!
//! Everything that knows a queue name lives in [`topology`], so the broker definitions written by
//! `broker/ctl` and the code can be checked against one list. Connections are made with a client
//! certificate ([`endpoint`]) because the broker takes the user from the certificate and refuses a
//! `user_id` that is not that user: the hub learns who sent a basis without trusting the document.
//! lapin's own auto-recovery is young, so [`session`] supervises a connection and reconnects with
//! [`crate::retry`]; [`publisher`] turns publisher confirms into "confirmed or told why not";
//! [`subscription`] is a consumer that survives a broker restart, [`settle`] acknowledges with a
//! time limit. [`messages`] are the JSON
//! bodies the hub sends back (status, notice), [`on_behalf`] a basis the SOAP gateway submits for a caller, [`handover`] the message between the hub's two
//! stages, [`pull`] a region's reader of its own delivery queue, [`region`] is a region's adapter
//! configuration.

pub mod basis_id;
pub mod endpoint;
pub mod error;
pub mod handover;
pub mod inbox;
pub mod messages;
pub mod on_behalf;
mod own_store;
pub mod publisher;
pub mod pull;
pub mod region;
pub mod session;
pub mod settle;
pub mod subscription;
pub mod topology;

pub use endpoint::Endpoint;
pub use error::BrokerError;
pub use messages::{Notice, Outcome, StatusMessage, StoreReceipt, Withholding};
pub use publisher::{Outgoing, Publisher};
pub use region::RegionConfig;
pub use session::Session;
pub use subscription::Subscription;
