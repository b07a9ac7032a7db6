//! `audit verify --witness URL`: the heads the witnesses hold, fetched over mutual TLS with the
//! auditor's certificate, so that the log must extend what others saw of it.

use std::path::PathBuf;

use anyhow::{bail, Context};
use hyper::Method;

use crate::audit::SignedTreeHead;
use crate::store::StoreClient;

/// How to reach witnesses: their URLs and the auditor's TLS files.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct WitnessArgs {
    /// A witness (`https://host:port`: a region's store, or `invoice-hub store` run as one) whose
    /// head the log must extend. Repeatable; a witness that cannot be asked fails the check.
    #[arg(long, value_name = "URL")]
    pub witness: Vec<String>,
    /// The federation CA the witnesses' certificates chain to.
    #[arg(long, value_name = "PEM", requires = "witness")]
    pub ca: Option<PathBuf>,
    /// The certificate to present to witnesses (e.g. auditor.pem) and its key.
    #[arg(long, value_name = "PEM", requires = "witness")]
    pub cert: Option<PathBuf>,
    #[arg(long, value_name = "KEY", requires = "cert")]
    pub cert_key: Option<PathBuf>,
}

/// What one witness holds of one log.
pub(crate) struct Held {
    pub url: String,
    pub log_id: String,
    pub head: Option<SignedTreeHead>,
}

impl WitnessArgs {
    /// The heads every witness holds of each log in `log_ids`.
    pub(crate) fn fetch(&self, log_ids: &[String]) -> anyhow::Result<Vec<Held>> {
        if self.witness.is_empty() {
            return Ok(Vec::new());
        }
        let (Some(ca), Some(cert), Some(key)) = (&self.ca, &self.cert, &self.cert_key) else {
            bail!("--witness needs --ca, --cert and --cert-key (the auditor's certificate)");
        };
        let tls = crate::tls::client_config(ca, Some((cert, key)), None)?;
        let tls = std::sync::Arc::new(tls);
        let rt = crate::cli::runtime()?;
        let mut out = Vec::new();
        for url in &self.witness {
            for id in log_ids {
                let head = rt
                    .block_on(ask(url, id, tls.clone()))
                    .with_context(|| format!("asking the witness {url} for its head of {id:?}"))?;
                out.push(Held {
                    url: url.clone(),
                    log_id: id.clone(),
                    head,
                });
            }
        }
        Ok(out)
    }
}

async fn ask(
    url: &str,
    log_id: &str,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> anyhow::Result<Option<SignedTreeHead>> {
    let mut client = StoreClient::new(url, tls)?;
    let a = client
        .request(Method::GET, &format!("/v1/witness/{log_id}"), None)
        .await?;
    match a.status.as_u16() {
        200 => Ok(Some(
            serde_json::from_slice(&a.body).context("its answer is not a signed head")?,
        )),
        404 if a.text().contains("holds no head") => Ok(None),
        s => bail!("HTTP {s}: {}", a.text()),
    }
}

/// One line per witness, for the report.
pub(crate) fn describe(held: &[Held]) -> Vec<String> {
    held.iter()
        .map(|h| match &h.head {
            Some(head) => format!(
                "witness {} holds a head of {:?} at size {} (signed {})",
                h.url, h.log_id, head.tree_size, head.timestamp
            ),
            None => format!("witness {} holds no head of {:?} yet", h.url, h.log_id),
        })
        .collect()
}
