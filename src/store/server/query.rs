//! The query string (`a=1&b=x%3Ay`) and the paging parameters every list shares.

/// Default and largest page of `GET /v1/claims` and `GET /v1/access-log`.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// A list's page: after which sequence number, and how many at most.
pub(super) struct Page {
    pub(super) after: Option<u64>,
    pub(super) limit: usize,
}

impl Page {
    /// Reads `after` and `limit`, and refuses any parameter that is neither those nor one of
    /// `filters` (a misspelt filter would otherwise list everything).
    pub(super) fn read(params: &[(String, String)], filters: &[&str]) -> Result<Page, String> {
        if let Some((k, _)) = params
            .iter()
            .find(|(k, _)| !filters.contains(&k.as_str()) && k != "after" && k != "limit")
        {
            return Err(format!(
                "unknown parameter {k:?} ({}, after, limit)",
                filters.join(", ")
            ));
        }
        Ok(Page {
            after: after(params)?,
            limit: page_limit(params)?,
        })
    }
}

fn page_limit(params: &[(String, String)]) -> Result<usize, String> {
    match param(params, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(format!("limit must be 1 to {MAX_PAGE}")),
        },
    }
}

fn after(params: &[(String, String)]) -> Result<Option<u64>, String> {
    match param(params, "after") {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| "after must be a sequence number".to_string()),
    }
}

pub(super) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `a=1&b=x%3Ay` → pairs, percent-decoded (`+` is a space).
pub(super) fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q =
            parse_query("since=2026-11-23T10%3A00%3A00Z&sender=2321000255&x=a+b&bad=%zz&end=%4");
        assert_eq!(param(&q, "since"), Some("2026-11-23T10:00:00Z"));
        assert_eq!(param(&q, "sender"), Some("2321000255"));
        assert_eq!(param(&q, "x"), Some("a b"));
        assert_eq!(param(&q, "bad"), Some("%zz"));
        assert_eq!(param(&q, "end"), Some("%4"));
    }

    #[test]
    fn pages_refuse_unknown_parameters_and_bad_limits() {
        let page = Page::read(&parse_query("actor=x&after=7"), &["actor"]).unwrap();
        assert_eq!((page.after, page.limit), (Some(7), DEFAULT_PAGE));
        let err = Page::read(&parse_query("sendr=x"), &["sender", "since"]).err();
        assert_eq!(
            err.as_deref(),
            Some("unknown parameter \"sendr\" (sender, since, after, limit)")
        );
        assert!(Page::read(&parse_query("limit=0"), &[]).is_err());
        assert!(Page::read(&parse_query("limit=1001"), &[]).is_err());
        assert!(Page::read(&parse_query("after=x"), &[]).is_err());
    }
}
