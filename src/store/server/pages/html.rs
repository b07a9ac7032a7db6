//! What every staff page is made of: escaping, the language, and one layout whose headers keep
//! patient data where it belongs — a strict Content-Security-Policy (nothing but this store's
//! own stylesheet: no scripts, no external assets, no framing), no caching, no referrer to other sites.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::super::query::param;
use super::super::respond::Resp;

/// The policy every page is served with: the stylesheet from this origin and forms posted back
/// to it; nothing else loads, runs or frames the page.
pub(super) const CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; \
                              frame-ancestors 'none'; base-uri 'none'";

/// Escapes text for an HTML element or a double-quoted attribute.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value.
pub(super) fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The pages' two languages: Swedish, the staff's own, by default; `?lang=en` for English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Sv,
    En,
}

impl Lang {
    pub(super) fn of(params: &[(String, String)]) -> Lang {
        match param(params, "lang") {
            Some("en") => Lang::En,
            _ => Lang::Sv,
        }
    }

    pub(super) fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    /// The label in this language: both are written side by side where they are used.
    pub(super) fn t(self, sv: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Sv => sv,
            Lang::En => en,
        }
    }
}

/// A whole page: the header with the store's name and the language switch, then `body`.
/// `here` is the page's own path and query without `lang`, for the switch's links.
pub(super) fn page(
    status: StatusCode,
    lang: Lang,
    org: &str,
    title: &str,
    here: &str,
    body: &str,
) -> Resp {
    let region = crate::claim::regions::region(org).map_or(org, |r| r.name);
    let sep = if here.contains('?') { '&' } else { '?' };
    let other = match lang {
        Lang::Sv => format!(
            r#"<a href="{}{sep}lang=en" lang="en">English</a>"#,
            esc(here)
        ),
        Lang::En => format!(
            r#"<a href="{}{sep}lang=sv" lang="sv">Svenska</a>"#,
            esc(here)
        ),
    };
    let html = format!(
        r#"<!doctype html>
<html lang="{code}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · invoice-hub</title>
<link rel="stylesheet" href="/staff/style.css">
</head>
<body>
<header class="top"><a class="home" href="/staff?lang={code}">{store}</a> <span class="region">{region}</span> <nav>{other}</nav></header>
<main>
{body}
</main>
</body>
</html>
"#,
        code = lang.code(),
        title = esc(title),
        store = lang.t("Fakturaunderlag", "Invoice bases"),
        region = esc(region),
    );
    respond(status, "text/html; charset=utf-8", Bytes::from(html))
}

/// A short page that says what went wrong, in the page's language.
pub(super) fn error_page(status: StatusCode, lang: Lang, org: &str, message: &str) -> Resp {
    let title = lang.t("Det gick inte", "That did not work");
    let body = format!(
        r#"<h1>{}</h1><p class="error" role="alert">{}</p><p><a href="/staff?lang={}">{}</a></p>"#,
        esc(title),
        esc(message),
        lang.code(),
        lang.t("Till listan", "Back to the list"),
    );
    page(status, lang, org, title, "/staff", &body)
}

/// Any answer of the staff pages, with the headers every one of them carries.
pub(super) fn respond(status: StatusCode, content_type: &str, body: Bytes) -> Resp {
    let mut r = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .body(Full::new(body))
        .expect("a valid response");
    let h = r.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    // Not `no-referrer`: with it a browser sends `Origin: null` on the pages' own forms.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            esc(r#"<a href="x">Å & 'b'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Å &amp; &#39;b&#39;&lt;/a&gt;"
        );
        assert_eq!(url("2026-11 a&b=ö"), "2026-11%20a%26b%3D%C3%B6");
    }
}
