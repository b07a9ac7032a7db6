//! The national contract on the wire (`../shared/contract/rivta.md`): ProcessClaimSpecification
//! 1.1 as RIVTA BP 2.1 writes it — a SOAP 1.1 envelope with the `LogicalAddress` header, the
//! contract's answer, the national platform's Faults, and the WSDL with its schemas.
//!
//! Three parts speak it and share this module: the gateway (it answers the regions' systems),
//! the store (it answers as a region's own producer) and the hub's `rivta` sink (it calls a
//! region's producer).
//!
//! - [`envelope`] — reading an envelope: the header, and the body's document cut out whole;
//! - [`soap`] — writing answers and Faults; the WSDL and schemas as an endpoint serves them.

pub mod envelope;
pub mod soap;

/// The endpoint's path, as the national platform's routing table names producers' addresses.
pub const DEFAULT_PATH: &str = "/ProcessClaimSpecification/1/rivtabp21";
/// The contract's largest message.
pub const MAX_MESSAGE: usize = 5 * 1024 * 1024;
