//! Who is calling, as the national platform decides it: the client certificate's subject
//! `SERIALNUMBER` (an HSA-id), mapped by the configuration to the region it calls for. The
//! platform itself calls on behalf of others and names them in
//! `x-rivta-original-serviceconsumer-hsaid`; that header is believed from the configured
//! platform certificates only, and refused from anyone else (the platform's VP013).

use crate::pki::{Identity, Pin};

use super::config::GatewayConfig;
use crate::rivta::soap::Code;

/// The HTTP header the platform names the original caller in.
pub(crate) const ORIGINAL_CONSUMER: &str = "x-rivta-original-serviceconsumer-hsaid";

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The region it calls for (organisation number).
    pub(crate) org: String,
    /// Its identity as logs write it: `hsa:<id>`, or `hsa:<original> via hsa:<platform>`.
    pub(crate) id: String,
}

/// A caller that may not call, and the Fault it gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) code: Code,
    pub(crate) why: String,
}

/// The caller of a request from certificate `who`, with the header's value if one was sent.
pub(crate) fn identify(
    cfg: &GatewayConfig,
    who: &Identity,
    original: Option<&str>,
) -> Result<Caller, Refused> {
    let platform = cfg.platform.iter().any(|p| p.matches(who));
    match (original, platform) {
        (Some(hsa), true) => by_hsa_id(cfg, hsa.trim())
            .map(|org| Caller {
                org,
                id: format!("hsa:{} via {}", hsa.trim(), who.id()),
            })
            .ok_or_else(|| Refused {
                code: Code::Vp007,
                why: format!(
                    "the platform calls for {}, which is no caller of this exchange",
                    hsa.trim()
                ),
            }),
        (Some(_), false) => Err(Refused {
            code: Code::Vp013,
            why: format!(
                "{ORIGINAL_CONSUMER} was sent by {}, which is not the national platform; only \
                 the platform may name another caller",
                who.id()
            ),
        }),
        (None, _) => by_certificate(cfg, who)
            .map(|org| Caller { org, id: who.id() })
            .ok_or_else(|| Refused {
                code: Code::Vp007,
                why: format!(
                    "the certificate {} (issuer {}, serial {}) is not a caller of this exchange: \
                     its SERIALNUMBER names no region in the gateway's [callers]",
                    who.id(),
                    who.issuer,
                    who.serial
                ),
            }),
    }
}

/// The region of a certificate: by its pin, else by its CN where `callers_by_cn` allows.
fn by_certificate(cfg: &GatewayConfig, who: &Identity) -> Option<String> {
    cfg.callers
        .iter()
        .find(|(pin, _)| pin.matches(who))
        .map(|(_, org)| org.clone())
        .or_else(|| cfg.callers_by_cn.get(&who.cn).cloned())
}

/// The region of an HSA-id the platform names (the platform vouches for the issuer).
fn by_hsa_id(cfg: &GatewayConfig, hsa: &str) -> Option<String> {
    cfg.callers.iter().find_map(|(pin, org)| match pin {
        Pin::Hsa { hsa_id, .. } if hsa_id == hsa => Some(org.clone()),
        _ => None,
    })
}
