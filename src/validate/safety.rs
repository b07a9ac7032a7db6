//! The first wall: cheap checks on the raw bytes before any XML parser sees them. One pass,
//! constant memory, no allocation proportional to the input: a hostile document is refused here
//! in the time it takes to read it once.
//!
//! What is refused, and why:
//! - more than `max_bytes` (default 5 MiB, the contract's maximum payload);
//! - bytes that are not UTF-8, or an XML declaration naming another encoding (the contract's
//!   documents are UTF-8, and two parsers must never decode the same bytes differently);
//! - any `<!DOCTYPE` or `<!ENTITY`: no DTD means no entity expansion (billion laughs), no
//!   external entities and no network access from a parser, whatever its options;
//! - elements nested deeper than `max_depth` (default 64; real documents are about 10 deep), so
//!   no recursive code further on can be driven into a stack overflow.

use super::Finding;

/// The contract's maximum payload: 5 MB, taken as 5 MiB.
pub const DEFAULT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Deepest element nesting accepted. The contract's deepest path is 8 elements below
/// `claimSpecification`; extensions get generous room on top of that.
pub const DEFAULT_MAX_DEPTH: usize = 64;

pub const RULE_SIZE: &str = "SAFETY-SIZE";
pub const RULE_UTF8: &str = "SAFETY-UTF8";
pub const RULE_ENCODING: &str = "SAFETY-ENCODING";
pub const RULE_DOCTYPE: &str = "SAFETY-DOCTYPE";
pub const RULE_DEPTH: &str = "SAFETY-DEPTH";
pub const RULE_EMPTY: &str = "SAFETY-EMPTY";

/// The limits, configurable per deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_bytes: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: DEFAULT_MAX_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Checks the raw bytes. `Err` carries the one finding that made going on unsafe.
pub fn check(bytes: &[u8], limits: &Limits) -> Result<(), Finding> {
    if bytes.len() > limits.max_bytes {
        return Err(Finding::new(
            RULE_SIZE,
            "/",
            format!(
                "the document is {} bytes; the limit is {} bytes",
                bytes.len(),
                limits.max_bytes
            ),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Finding::new(RULE_EMPTY, "/", "the document is empty"));
    }
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(Finding::new(
            RULE_UTF8,
            "/",
            format!(
                "the document is not valid UTF-8 (line {}, byte {})",
                line_at(bytes, e.valid_up_to()),
                e.valid_up_to()
            ),
        ));
    }
    check_declaration(bytes)?;
    scan_markup(bytes, limits.max_depth)
}

fn line_at(bytes: &[u8], offset: usize) -> usize {
    1 + bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// An XML declaration may name an encoding; only UTF-8 is accepted.
fn check_declaration(bytes: &[u8]) -> Result<(), Finding> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !body.starts_with(b"<?xml") {
        return Ok(());
    }
    let end = find(body, b"?>", 0).unwrap_or(body.len()).min(200);
    let decl = &body[..end];
    if let Some(i) = find(decl, b"encoding", 0) {
        let rest = &decl[i + 8..];
        let q = rest.iter().position(|&b| b == b'"' || b == b'\'');
        if let Some(q) = q {
            let quote = rest[q];
            let value = &rest[q + 1..];
            let value = &value[..value
                .iter()
                .position(|&b| b == quote)
                .unwrap_or(value.len())];
            if !value.eq_ignore_ascii_case(b"UTF-8") && !value.eq_ignore_ascii_case(b"UTF8") {
                return Err(Finding::new(
                    RULE_ENCODING,
                    "/",
                    format!(
                        "the XML declaration names encoding {}; only UTF-8 is accepted",
                        String::from_utf8_lossy(value)
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from >= hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Walks the markup: tags, comments, CDATA sections, processing instructions. Counts nesting
/// and refuses DOCTYPE/ENTITY declarations. Malformed markup is left for the XML parser to
/// report; this pass only has to be right about what it refuses.
fn scan_markup(b: &[u8], max_depth: usize) -> Result<(), Finding> {
    let mut depth: usize = 0;
    let mut i = 0;
    let n = b.len();
    while i < n {
        let Some(lt) = memchr(b'<', b, i) else {
            break;
        };
        i = lt + 1;
        match b.get(i) {
            Some(b'?') => {
                i = find(b, b"?>", i).map_or(n, |p| p + 2);
            }
            Some(b'!') => {
                let rest = &b[i..];
                if rest.starts_with(b"!--") {
                    i = find(b, b"-->", i + 3).map_or(n, |p| p + 3);
                } else if rest.starts_with(b"![CDATA[") {
                    i = find(b, b"]]>", i + 8).map_or(n, |p| p + 3);
                } else {
                    let what = if starts_with_ci(rest, b"!DOCTYPE") {
                        "a DOCTYPE declaration"
                    } else if starts_with_ci(rest, b"!ENTITY") {
                        "an ENTITY declaration"
                    } else {
                        "a markup declaration"
                    };
                    return Err(Finding::new(
                        RULE_DOCTYPE,
                        "/",
                        format!(
                            "line {}: {what} is not allowed (no DTDs, no entities)",
                            line_at(b, lt)
                        ),
                    ));
                }
            }
            Some(b'/') => {
                depth = depth.saturating_sub(1);
                i = memchr(b'>', b, i).map_or(n, |p| p + 1);
            }
            Some(_) => {
                // A start tag: find its end, skipping quoted attribute values.
                let mut j = i;
                let mut quote = 0u8;
                while j < n {
                    let c = b[j];
                    if quote != 0 {
                        if c == quote {
                            quote = 0;
                        }
                    } else if c == b'"' || c == b'\'' {
                        quote = c;
                    } else if c == b'>' {
                        break;
                    }
                    j += 1;
                }
                let self_closing = j > i && b[j - 1] == b'/';
                if !self_closing {
                    depth += 1;
                    if depth > max_depth {
                        return Err(Finding::new(
                            RULE_DEPTH,
                            "/",
                            format!(
                                "line {}: elements are nested more than {max_depth} levels deep",
                                line_at(b, lt)
                            ),
                        ));
                    }
                }
                i = j + 1;
            }
            None => break,
        }
    }
    Ok(())
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

fn memchr(c: u8, hay: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .iter()
        .position(|&b| b == c)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(bytes: &[u8]) -> Option<String> {
        check(bytes, &Limits::default()).err().map(|f| f.rule)
    }

    #[test]
    fn plain_documents_pass() {
        assert_eq!(rule(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><a x='>'><b/><!-- <c> --><![CDATA[<d>]]></a>"), None);
    }

    #[test]
    fn each_refusal_has_its_rule() {
        assert_eq!(rule(b"<!DOCTYPE a><a/>").as_deref(), Some(RULE_DOCTYPE));
        assert_eq!(
            rule(b"<a><!ENTITY x 'y'></a>").as_deref(),
            Some(RULE_DOCTYPE)
        );
        assert_eq!(rule(b"<a>\xff</a>").as_deref(), Some(RULE_UTF8));
        assert_eq!(rule(b"  \n").as_deref(), Some(RULE_EMPTY));
        assert_eq!(
            rule(b"<?xml version='1.0' encoding='ISO-8859-1'?><a/>").as_deref(),
            Some(RULE_ENCODING)
        );
        let deep = format!("{}{}", "<a>".repeat(65), "</a>".repeat(65));
        assert_eq!(rule(deep.as_bytes()).as_deref(), Some(RULE_DEPTH));
        let ok = format!("{}{}", "<a>".repeat(64), "</a>".repeat(64));
        assert_eq!(rule(ok.as_bytes()), None);
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        assert_eq!(
            check(b"<a>0123456789</a>", &small).unwrap_err().rule,
            RULE_SIZE
        );
    }

    #[test]
    fn siblings_do_not_add_depth() {
        let wide = format!("<r>{}</r>", "<a><b/></a>".repeat(10_000));
        assert_eq!(rule(wide.as_bytes()), None);
    }
}
