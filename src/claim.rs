//! The typed model of ProcessClaimSpecification 1.1. Placeholder until the model lands.

/// The invoice basis (`claimSpecification`).
#[derive(Debug, Clone, Default)]
pub struct ClaimSpecification {}
