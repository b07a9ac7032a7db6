//! The `store` sink's answer: a receiving region's restricted store answers `PUT
//! /v1/claims/{id}` with its receipt (JSON), 201 the first time and 200 with the same receipt
//! for the same bytes again.

use super::{Delivered, DeliveryError};
use crate::broker::StoreReceipt;
use crate::store::client::Answer;

/// The receipt in a store's answer, or why there is none.
pub(super) fn receipt(url: &str, answer: &Answer) -> Result<Delivered, DeliveryError> {
    let status = answer.status.as_u16();
    match status {
        200 | 201 => {
            let raw = answer.text();
            let receipt: StoreReceipt =
                serde_json::from_str(&raw).map_err(|e| DeliveryError::Unavailable {
                    url: url.to_string(),
                    why: format!("receipt is not JSON: {e}"),
                })?;
            Ok(Delivered { receipt, raw })
        }
        _ if answer.is_unavailable() => Err(DeliveryError::Unavailable {
            url: url.to_string(),
            why: format!("HTTP {status}"),
        }),
        _ => Err(DeliveryError::Refused {
            url: url.to_string(),
            status,
            body: answer.text().chars().take(500).collect(),
        }),
    }
}
