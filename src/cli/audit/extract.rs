//! `invoice-hub audit patient-extract`: the patient's log extract (logutdrag) as a letter a
//! region can send — who received, disclosed, delivered and read data about this person, from
//! the hub's disclosure log and the stores' access logs together, in time order.
//!
//! The letter holds the person's own identity (it is addressed to them) and the bases' ids,
//! regions, rules, board decisions and readers' identities; never another patient: entries are
//! found by this patient's keyed hash, and no entry's patient hashes or contents are printed.
//! It is written to a file created 0600, never to stdout or a log.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};

use super::{parse_when, refuse_key_inside_log, refuse_other_patient_key};
use crate::audit::{Event, LogSet, PatientKey, Query, Record, SetEntry};
use crate::cli::output::say;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
invoice-hub audit --log hub-log --log store-2321000016/data/access-log --log store-2321000115/data/access-log \\\n      \
patient-extract --patient 196107044170 --patient-key patient-hmac.key --out logutdrag.html\n  \
chromium --headless --no-sandbox --print-to-pdf=logutdrag.pdf logutdrag.html     # the same as a PDF\n\n\
The letter (Swedish) lists every entry about the person in the logs given, in time order: received, \
disclosed (which region's policy, rule and board decision), withheld, delivered, and each read at a \
store (the reader's certificate identity, the HSA-id, which the region can name). It refuses a \
patient key that is not the logs' and a file that already exists.")]
pub(in crate::cli) struct ExtractArgs {
    /// The patient's personal (or coordination) number; hashed with --patient-key to find the
    /// entries, and written in the letter it is addressed to.
    #[arg(long)]
    pub patient: String,
    /// The federation's patient HMAC key file.
    #[arg(long, value_name = "FILE", env = "INVOICE_HUB_PATIENT_KEY")]
    pub patient_key: PathBuf,
    /// From this time (inclusive): YYYY-MM-DD or RFC 3339.
    #[arg(long, value_parser = parse_when)]
    pub from: Option<DateTime<Utc>>,
    /// Up to this time (exclusive).
    #[arg(long, value_parser = parse_when)]
    pub to: Option<DateTime<Utc>>,
    /// The region sending the letter, named in its heading.
    #[arg(long, default_value = "")]
    pub region: String,
    /// The letter to write (HTML; created 0600, never overwritten).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub(super) fn run(dirs: &[PathBuf], a: ExtractArgs) -> anyhow::Result<ExitCode> {
    for dir in dirs {
        refuse_key_inside_log(&a.patient_key, dir)?;
    }
    let key = PatientKey::load(&a.patient_key).context("loading the patient key")?;
    let set = LogSet::open_existing(dirs).context("opening the logs")?;
    for log in set.logs() {
        refuse_other_patient_key(log, Some(&key.id()))?;
    }
    let q = Query {
        patient: Some(key.hash(&a.patient)),
        from: a.from,
        to: a.to,
        ..Default::default()
    };
    let res = set.query(&q).context("querying the logs")?;
    if res.truncated {
        bail!("the logs' answer was cut short; no letter written");
    }
    let html = letter(&a, &res.entries);
    let mut f = std::fs::OpenOptions::new();
    f.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
    let mut file = f
        .open(&a.out)
        .with_context(|| format!("creating {}", a.out.display()))?;
    file.write_all(html.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", a.out.display()))?;
    say!(
        "wrote {}: {} entries from {} logs",
        a.out.display(),
        res.entries.len(),
        set.logs().len()
    );
    Ok(ExitCode::SUCCESS)
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn region(org: &str) -> String {
    crate::claim::regions::region(org).map_or_else(|| org.to_string(), |r| r.name.to_string())
}

/// What an entry says, in words a patient reads.
fn says(r: &Record) -> String {
    let (from, to) = (region(&r.sender), region(&r.receiver));
    let policy = r.policy.as_ref().map_or_else(String::new, |p| {
        format!(
            " (beslut {}, policy {} version {})",
            p.board_decision, p.id, p.version
        )
    });
    let rules = if r.matched_rules.is_empty() {
        String::new()
    } else {
        format!("; regler: {}", r.matched_rules.join(", "))
    };
    match r.event {
        Event::Received => {
            format!("{from} skickade fakturaunderlaget till utväxlingen för kontroll")
        }
        Event::Rejected => "Fakturaunderlaget avvisades vid kontrollen och lämnades inte ut".into(),
        Event::Withheld => {
            format!("Underlaget hölls inne och lämnades inte ut till {to}{policy}{rules}")
        }
        Event::Disclosed => {
            format!("Uppgifter lämnades ut till {to} enligt {from}s menprövning{policy}{rules}")
        }
        Event::Delivered => format!("Underlaget levererades till {to}s skyddade lager"),
        Event::Accessed => {
            let who = r.actor.as_deref().unwrap_or("okänd");
            let did = match r.action.as_deref() {
                Some("get" | "page") => "öppnade underlaget",
                Some("print") => "skrev ut underlaget",
                Some("xml") => "laddade ned underlaget",
                Some("export") => "exporterade fakturauppgifterna (utan uppgifter om dig)",
                Some("processed") => "markerade underlaget som behandlat",
                Some("disputed") => "bestred underlaget",
                _ => "tog del av underlaget",
            };
            format!("Vid {to} {did}: {who}")
        }
        Event::Reviewed => {
            let who = r.actor.as_deref().unwrap_or("okänd");
            let did = match r.action.as_deref() {
                Some("keep") => "beslutade att underlaget fortsatt hålls inne".to_string(),
                _ => format!("beslutade att lämna ut underlaget till {to}"),
            };
            format!("Vid {from}s menprövning {did}: {who}")
        }
    }
}

fn letter(a: &ExtractArgs, entries: &[SetEntry]) -> String {
    let mut rows = String::new();
    for e in entries {
        let r = &e.entry.record;
        let when = r
            .time
            .with_timezone(&crate::clock::SWEDEN)
            .format("%Y-%m-%d %H:%M");
        rows.push_str(&format!(
            "<tr><td>{when}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&says(r)),
            esc(&r.basis_id)
        ));
    }
    if entries.is_empty() {
        rows.push_str(
            "<tr><td colspan=\"3\">Loggarna har inga uppgifter om dig för perioden.</td></tr>\n",
        );
    }
    let period = match (a.from, a.to) {
        (None, None) => "hela tiden loggarna omfattar".to_string(),
        (f, t) => format!(
            "{} – {}",
            f.map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            t.map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        ),
    };
    let pn = a.patient.trim();
    let pn = if pn.len() == 12 {
        format!("{}-{}", &pn[..8], &pn[8..])
    } else {
        pn.to_string()
    };
    format!(
        r#"<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><title>Logutdrag</title>
<style>body{{font:11pt/1.45 "DejaVu Sans",Arial,sans-serif;max-width:46em;margin:2em auto;color:#111}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.35em .5em;text-align:left;vertical-align:top}}
th{{background:#eee}}td:first-child{{white-space:nowrap}}.small{{color:#555;font-size:.9em}}</style></head>
<body>
<h1>Logutdrag{region}</h1>
<p>Avser: {pn}<br>Period: {period}<br>Utfärdat: {today}</p>
<p>Du har begärt uppgift om vem som har tagit emot eller tagit del av uppgifter om dig
(patientdatalagen 8 kap. 1 §). Här är allt som loggarna för utväxlingen av fakturaunderlag mellan
regionerna har registrerat om dig: när ett underlag om din vård skickades, vad som lämnades ut och
enligt vilket beslut, vart det levererades och vem som sedan läste det.</p>
<table><thead><tr><th>När</th><th>Vad</th><th>Underlag</th></tr></thead><tbody>
{rows}</tbody></table>
<p class="small">Personer anges med sitt HSA-id (ur deras e-tjänstekort); regionen kan på begäran
ange namn och befattning. Loggarna är manipuleringsskyddade: varje post ingår i en signerad
hashkedja som kan granskas i efterhand. Utdraget innehåller inga uppgifter om andra patienter.</p>
</body></html>
"#,
        region = if a.region.is_empty() {
            String::new()
        } else {
            format!(" – {}", esc(&a.region))
        },
        pn = esc(&pn),
        period = esc(&period),
        today = crate::clock::today(),
    )
}
