//! The commands' one output language (docs/output.md): `--format text|json|csv`, the same field
//! names and outcome words in every command, one JSON object per line for a stream (files
//! checked one by one, messages as they come), one JSON document for an answer that is a page or
//! a report, CSV with a header row, and a closed pipe (`| head`) that ends the command quietly.

use std::borrow::Cow;
use std::io::Write;

use serde::Serialize;

/// How a command prints what it found.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// For people: one line per item, aligned where it helps.
    #[default]
    #[value(alias = "table")]
    Text,
    /// For programs: one JSON object per line for a stream, one document for a page or report.
    Json,
    /// For spreadsheets and finance systems: a header row, then one row per item.
    Csv,
}

impl Format {
    /// A report (a verification) is one document with no rows: `csv` is refused by name before
    /// anything is read.
    pub(crate) fn for_report(self) -> anyhow::Result<Format> {
        if self == Format::Csv {
            anyhow::bail!("--format csv: a verification is one report; use text or json");
        }
        Ok(self)
    }
}

/// Writes `value` as one line of JSON.
pub(crate) fn json_line(out: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, value)?;
    out.write_all(b"\n")
}

/// A CSV field, quoted when it must be (RFC 4180).
pub(crate) fn csv_field(s: &str) -> Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

/// Writes one CSV row.
pub(crate) fn csv_row<S: AsRef<str>>(out: &mut impl Write, fields: &[S]) -> std::io::Result<()> {
    let line = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    writeln!(out, "{line}")
}

/// Whether the command failed only because whoever read its output stopped reading (`| head`):
/// that ends the command quietly, as it does for the shell's own tools.
pub(crate) fn closed_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` that hands a failed write back (`?`) instead of panicking on a closed pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use say;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let mut out = Vec::new();
        csv_row(&mut out, &["a", "b,c", "say \"hi\"", "two\nlines", ""]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\",\n"
        );
    }

    #[test]
    fn a_closed_pipe_is_recognised_through_context() {
        use anyhow::Context as _;
        let e = Err::<(), _>(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the report")
            .unwrap_err();
        assert!(closed_pipe(&e));
        assert!(!closed_pipe(&anyhow::anyhow!("something else")));
    }
}
