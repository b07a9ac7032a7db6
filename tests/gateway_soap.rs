//! The SOAP gateway on real parts: a broker, the hub, two region stores and `invoice-hub
//! gateway`, called by a SOAP client nobody here wrote (Python's zeep, loading the WSDL the
//! gateway serves) and by hand-written envelopes with the prefixes SoapUI and .NET clients
//! write. Every answer of the contract, the platform's Faults, a repeat, the callers that are
//! refused (another region's certificate, a header from a caller that is not the platform, a
//! certificate whose SERIALNUMBER is not a caller, a revoked one), and slow-header connections
//! with a valid certificate.

mod common;
mod net_support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::exchange::{
    basis, bin, entries_of, make_psychiatry_minor, notices, run_ok, stored_ids, write, Exchange,
    Gateway,
};
use common::{TestBroker, ORG_HALLAND, ORG_STOCKHOLM, ORG_VGR_NOT_A_USER};
use invoice_hub::audit::{AuditLog, Event};
use serde_json::{json, Value};

const RSP: &str = "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1";
const ACTION: &str =
    "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1:ProcessClaimSpecification";

/// One call of a plan for `tests/gateway/soap_client.py`.
fn zeep(name: &str, who: &Path, basis: &Path, address: Option<&str>) -> Value {
    json!({
        "name": name, "via": "zeep",
        "cert": who.with_extension("pem"), "key": who.with_extension("key"),
        "basis": basis, "logical_address": address,
    })
}

fn raw(name: &str, who: &Path, envelope: &Path, action: Option<&str>) -> Value {
    json!({
        "name": name, "via": "raw",
        "cert": who.with_extension("pem"), "key": who.with_extension("key"),
        "envelope": envelope, "soap_action": action,
    })
}

/// Runs a plan; the results by call name.
fn run_plan(work: &Path, name: &str, plan: Value) -> BTreeMap<String, Value> {
    let file = work.join(format!("{name}.json"));
    std::fs::write(&file, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/gateway/soap_client.py");
    let o = std::process::Command::new("python3")
        .arg(script)
        .arg(&file)
        .output()
        .expect("python3 runs (make test installs zeep)");
    assert!(
        o.status.success(),
        "soap_client.py failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    results
        .into_iter()
        .map(|r| (r["name"].as_str().unwrap().to_string(), r))
        .collect()
}

fn ok(r: &BTreeMap<String, Value>, name: &str) {
    let v = &r[name];
    assert_eq!(
        (v["kind"].as_str(), v["resultCode"].as_str()),
        (Some("answer"), Some("OK")),
        "{name}: {v:#}"
    );
    assert!(
        v["comment"].is_null(),
        "{name}: an OK has no comment: {v:#}"
    );
}

/// An ERROR answer whose comment names every rule in `ids` (in the contract's `Id:` form).
fn error(r: &BTreeMap<String, Value>, name: &str, ids: &[&str]) -> String {
    let v = &r[name];
    assert_eq!(
        (v["kind"].as_str(), v["resultCode"].as_str()),
        (Some("answer"), Some("ERROR")),
        "{name}: {v:#}"
    );
    let got: Vec<&str> = v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i.as_str())
        .collect();
    for id in ids {
        assert!(got.contains(id), "{name}: {id} not among {got:?}: {v:#}");
    }
    v["comment"].as_str().unwrap().to_string()
}

fn fault(r: &BTreeMap<String, Value>, name: &str, code: &str) {
    let v = &r[name];
    assert_eq!(v["kind"].as_str(), Some("fault"), "{name}: {v:#}");
    assert!(
        v["fault"].as_str().unwrap().starts_with(code),
        "{name}: the Fault should start with {code}: {v:#}"
    );
}

/// A basis (`doc`, as `ClaimSpecification::to_xml` writes it: `rsp:` and `clm:` declared on
/// its root) in a hand-written envelope of `style`.
fn envelope(dir: &Path, name: &str, doc: &str, style: &str, address: &str) -> PathBuf {
    let body = match doc.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").unwrap().1.trim_start(),
        None => doc,
    };
    let core = "urn:riv:financial:billing:claim:1";
    let own = format!(" xmlns:rsp=\"{RSP}\" xmlns:clm=\"{core}\"");
    assert!(
        body.contains(&own),
        "the document declares its namespaces on its root"
    );
    let env = match style {
        // SoapUI: soapenv, urn (header), urn1 and urn2 for the contract's namespaces, every
        // declaration on the Envelope: the document inherits them all.
        "soapui" => {
            let body = body
                .replacen(&own, "", 1)
                .replace("<rsp:", "<urn1:")
                .replace("</rsp:", "</urn1:")
                .replace("<clm:", "<urn2:")
                .replace("</clm:", "</urn2:");
            format!(
                "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" \
                 xmlns:urn=\"urn:riv:itintegration:registry:1\" xmlns:urn1=\"{RSP}\" \
                 xmlns:urn2=\"{core}\">\n   <soapenv:Header>\n      \
                 <urn:LogicalAddress>{address}</urn:LogicalAddress>\n   </soapenv:Header>\n   \
                 <soapenv:Body>\n{body}\n   </soapenv:Body>\n</soapenv:Envelope>"
            )
        }
        // .NET (WCF): s:, the header element with its namespace as default, the contract's
        // namespaces declared on Body, the responder's as a default namespace.
        "dotnet" => {
            let body = body
                .replacen(&own, "", 1)
                .replace("<rsp:", "<")
                .replace("</rsp:", "</");
            format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><s:Envelope \
                 xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><LogicalAddress \
                 xmlns=\"urn:riv:itintegration:registry:1\">{address}</LogicalAddress></s:Header>\
                 <s:Body xmlns=\"{RSP}\" xmlns:clm=\"{core}\" \
                 xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">{body}</s:Body></s:Envelope>"
            )
        }
        other => panic!("{other}"),
    };
    let path = dir.join(format!("{name}.envelope.xml"));
    std::fs::write(&path, env).unwrap();
    path
}

fn issue(certs: &Path, org: &str, hsa_id: &str, stem: &str) -> PathBuf {
    let dir = certs.to_str().unwrap();
    run_ok(bin().args([
        "pki", "issue", "--dir", dir, "--role", "region", "--org", org, "--cn", org, "--hsa-id",
        hsa_id, "--stem", stem,
    ]));
    certs.join(stem)
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one story: every kind of call against one running exchange, then what it left"
)]
fn a_soap_client_nobody_here_wrote_gets_the_contract_s_answers() {
    let broker = TestBroker::start("gateway");
    let ex = Exchange::start(&broker, "soap", &[]);
    let certs = ex.certs.clone();
    let (h, s) = (ORG_HALLAND, ORG_STOCKHOLM);
    // A second system of Halland's, named in [callers]; and one with Halland's CN whose
    // SERIALNUMBER the gateway does not know.
    let second = issue(&certs, h, &format!("SE{h}-REGION2"), "region-halland-2");
    let impostor = issue(&certs, h, &format!("SE{h}-REGION9"), "region-halland-9");
    let gw = Gateway::start(
        &broker,
        &ex.work,
        &format!("\"hsa:SE{h}-REGION2\" = \"{h}\"\n"),
    );
    let dir = ex.work.join("calls");
    let doc = |n: u32, f: &dyn Fn(&mut invoice_hub::claim::ClaimSpecification)| {
        let mut c = basis(h, s, n);
        f(&mut c);
        let id = write(&dir, &c);
        (dir.join(format!("{id}.xml")), id)
    };
    let same = |_: &mut invoice_hub::claim::ClaimSpecification| {};
    let halland = certs.join(format!("region-{h}"));
    let stockholm = certs.join(format!("region-{s}"));
    let platform = certs.join("platform");
    let staff = certs.join(format!("staff-{h}"));

    let (valid, valid_id) = doc(1, &same);
    let (invalid, _) = doc(2, &|c| {
        c.payable_amount.amount = "9999.00".into();
        c.issue_date = "20991231".into();
    });
    let (withheld, withheld_id) = doc(3, &make_psychiatry_minor);
    let (unrouted, _) = doc(4, &same);
    let (no_address, _) = doc(5, &same);
    let (mismatch, mismatch_id) = doc(6, &same);
    let (by_stockholm, _) = doc(7, &same);
    let (by_platform, platform_id) = doc(8, &same);
    let (soapui_doc, soapui_id) = doc(9, &same);
    let (dotnet_doc, dotnet_id) = doc(10, &same);
    let (by_second, second_id) = doc(11, &same);
    let text = |p: &Path| std::fs::read_to_string(p).unwrap();
    let soapui = envelope(&dir, "soapui", &text(&soapui_doc), "soapui", s);
    let dotnet = envelope(&dir, "dotnet", &text(&dotnet_doc), "dotnet", s);
    let mut header_call = zeep("header from a region", &halland, &valid, Some(s));
    header_call["headers"] =
        json!({"x-rivta-original-serviceconsumer-hsaid": format!("SE{h}-REGION")});
    let mut via_platform = zeep("via the platform", &platform, &by_platform, Some(s));
    via_platform["headers"] =
        json!({"x-rivta-original-serviceconsumer-hsaid": format!("SE{h}-REGION")});

    let wsdl = format!("{}?wsdl", gw.url);
    let calls = vec![
        zeep("valid", &halland, &valid, Some(s)),
        zeep("repeat", &halland, &valid, Some(s)),
        zeep("invalid", &halland, &invalid, Some(s)),
        zeep("withheld", &halland, &withheld, Some(s)),
        zeep(
            "unknown receiver",
            &halland,
            &unrouted,
            Some(ORG_VGR_NOT_A_USER),
        ),
        zeep("no LogicalAddress", &halland, &no_address, None),
        zeep(
            "LogicalAddress not the customer",
            &halland,
            &mismatch,
            Some(h),
        ),
        // The same document again with the address corrected is a new call, not a repeat.
        zeep("corrected LogicalAddress", &halland, &mismatch, Some(s)),
        zeep(
            "another region's certificate",
            &stockholm,
            &by_stockholm,
            Some(s),
        ),
        header_call,
        via_platform,
        zeep("staff certificate", &staff, &valid, Some(s)),
        zeep("same CN, unknown SERIALNUMBER", &impostor, &valid, Some(s)),
        zeep("second system", &second, &by_second, Some(s)),
        raw("SoapUI", &halland, &soapui, Some(&format!("\"{ACTION}\""))),
        raw(
            "SoapUI repeat, unquoted action",
            &halland,
            &soapui,
            Some(ACTION),
        ),
        raw(".NET", &halland, &dotnet, None),
    ];
    let plan = json!({
        "wsdl": wsdl, "ca": certs.join("ca.pem"), "calls": calls,
        "schemas_out": ex.work.join("served"),
        "xmllint": [&valid, &withheld],
    });
    let r = run_plan(&ex.work, "plan-1", plan);
    let log = || format!("gateway:\n{}\nhub:\n{}", gw.log(), ex.hub.log());

    ok(&r, "valid");
    ok(&r, "repeat");
    let comment = error(&r, "invalid", &["R5", "R2"]);
    assert!(
        comment.contains(
            "Location: /urn1:ProcessClaimSpecification/urn1:claimSpecification/urn2:payableAmount"
        ),
        "{comment}"
    );
    assert!(
        comment
            .lines()
            .skip(1)
            .all(|l| l.starts_with("Error: ") && l.contains(" / Test: ")),
        "{comment}"
    );
    let comment = error(&r, "withheld", &[]);
    assert!(
        comment.contains("board decision") && comment.contains("not received"),
        "{comment}"
    );
    fault(&r, "unknown receiver", "VP004");
    fault(&r, "no LogicalAddress", "VP003");
    error(&r, "LogicalAddress not the customer", &["RECEIVER"]);
    ok(&r, "corrected LogicalAddress");
    error(&r, "another region's certificate", &["SENDER"]);
    fault(&r, "header from a region", "VP013");
    ok(&r, "via the platform");
    fault(&r, "staff certificate", "VP007");
    fault(&r, "same CN, unknown SERIALNUMBER", "VP007");
    ok(&r, "second system");
    ok(&r, "SoapUI");
    ok(&r, "SoapUI repeat, unquoted action");
    ok(&r, ".NET");
    for name in [
        "xmllint ".to_string() + &valid_id + ".xml",
        format!("xmllint {withheld_id}.xml"),
    ] {
        let v = &r[&name];
        assert_eq!(
            v["rc"].as_i64(),
            Some(0),
            "{name}: the served schemas: {v:#}"
        );
        assert_eq!(
            v["fetched"].as_array().unwrap().len(),
            4,
            "WSDL and three schemas: {v:#}"
        );
    }

    // A revoked caller is refused within the CRL's reload interval, without a restart; the
    // others go on.
    run_ok(
        bin()
            .args(["pki", "revoke", "--dir"])
            .arg(&certs)
            .arg(second.with_extension("pem")),
    );
    #[expect(
        clippy::disallowed_methods,
        reason = "a plain test thread; the wait is the CRL's reload interval (1 s) and a margin"
    )]
    std::thread::sleep(Duration::from_millis(2500));
    let (after, after_id) = doc(12, &same);
    let (revoked, _) = doc(13, &same);
    let plan = json!({
        "wsdl": format!("{}?wsdl", gw.url), "ca": certs.join("ca.pem"),
        "calls": [zeep("revoked", &second, &revoked, Some(s)), zeep("after", &halland, &after, Some(s))],
    });
    let r2 = run_plan(&ex.work, "plan-2", plan);
    let v = &r2["revoked"];
    assert!(
        v["kind"] == "refused" || v["fault"].as_str().is_some_and(|f| f.starts_with("VP002")),
        "a revoked caller: {v:#}\n{}",
        gw.log()
    );
    ok(&r2, "after");
    assert!(
        gw.log().contains("revoked"),
        "the refusal is logged: {}",
        gw.log()
    );
    assert!(!gw.log().contains("BEGIN CERTIFICATE"));

    // What the exchange did: every OK basis is in Stockholm's store once, told once, and in
    // the hub's log once as received (by the caller, through the gateway), disclosed and
    // delivered; the repeats added nothing.
    let delivered = [
        &valid_id,
        &platform_id,
        &soapui_id,
        &dotnet_id,
        &second_id,
        &after_id,
        &mismatch_id,
    ];
    let stockholm_cfg = ex.stockholm_cfg.clone();
    let held = common::poll(Duration::from_secs(60), Duration::from_millis(500), || {
        let ids = stored_ids(&ex.stockholm, &certs);
        delivered.iter().all(|d| ids.contains(d)).then_some(ids)
    })
    .unwrap_or_else(|| panic!("not all delivered\n{}", log()));
    for d in delivered {
        assert_eq!(
            held.iter().filter(|i| i == &d).count(),
            1,
            "{d} once in the store"
        );
    }
    let told = common::poll(Duration::from_secs(30), Duration::from_millis(500), || {
        let n = notices(&stockholm_cfg);
        delivered.iter().all(|d| n.contains_key(*d)).then_some(n)
    })
    .expect("every delivery notified");
    for d in delivered {
        assert_eq!(told[d], 1, "{d} notified once");
    }
    let mut hub = ex.hub;
    hub.stop();
    let audit = AuditLog::open_existing(&ex.hub_log_dir, None).unwrap();
    let entries = |id: &str| entries_of(&audit, id);
    for d in delivered {
        let e = entries(d);
        let events: Vec<Event> = e.iter().map(|e| e.record.event).collect();
        assert_eq!(
            events,
            [Event::Received, Event::Disclosed, Event::Delivered],
            "{d}"
        );
    }
    let received = &entries(&valid_id)[0].record;
    assert_eq!(
        received.actor.as_deref(),
        Some(format!("hsa:SE{h}-REGION via hsa:SE0000000000-GATEWAY").as_str())
    );
    let received = &entries(&platform_id)[0].record;
    assert_eq!(
        received.actor.as_deref(),
        Some(
            format!("hsa:SE{h}-REGION via hsa:SE0000000000-PLATFORM via hsa:SE0000000000-GATEWAY")
                .as_str()
        )
    );
    let withheld_events: Vec<Event> = entries(&withheld_id)
        .iter()
        .map(|e| e.record.event)
        .collect();
    assert_eq!(withheld_events, [Event::Received, Event::Withheld]);
}

/// 100 slow-header connections with a certificate the gateway accepts are closed within the
/// header timeout, while a call is answered; a kept-alive connection left idle after a request is
/// closed after the header timeout too (it is also the idle timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_are_closed_while_calls_are_answered() {
    let broker = TestBroker::start("gateway-slow");
    let ex = Exchange::start(&broker, "slow", &[]);
    let gw = Gateway::start(&broker, &ex.work, "");
    let (host, port) = gw
        .addr()
        .rsplit_once(':')
        .map(|(h, p)| (h.to_string(), p.parse::<u16>().unwrap()))
        .unwrap();
    let c = &ex.certs;
    let region = c.join(format!("region-{ORG_HALLAND}"));
    let tls = Arc::new(
        invoice_hub::tls::client_config(
            &c.join("ca.pem"),
            Some((&region.with_extension("pem"), &region.with_extension("key"))),
            None,
        )
        .unwrap(),
    );
    let give_up = Duration::from_secs(30);
    let path = b"POST /ProcessClaimSpecification/1/rivtabp21".to_vec();
    let slow: Vec<_> = (0..100)
        .map(|_| {
            let (addr, tls, path) = ((host.clone(), port), tls.clone(), path.clone());
            tokio::spawn(async move { net_support::slow_header(addr, tls, &path, give_up).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let dir = ex.work.join("calls");
    let id = write(&dir, &basis(ORG_HALLAND, ORG_STOCKHOLM, 1));
    let plan = json!({
        "wsdl": format!("{}?wsdl", gw.url), "ca": c.join("ca.pem"),
        "calls": [zeep("served", &region, &dir.join(format!("{id}.xml")), Some(ORG_STOCKHOLM))],
    });
    let work = ex.work.clone();
    let r = tokio::task::spawn_blocking(move || run_plan(&work, "plan-slow", plan))
        .await
        .unwrap();
    ok(&r, "served");
    for s in slow {
        let closed = s.await.unwrap();
        let took =
            closed.unwrap_or_else(|| panic!("a slow connection still open after {give_up:?}"));
        // header_timeout_secs = 2 in the test's gateway.toml; the margin is the machine's.
        assert!(took < Duration::from_secs(15), "closed after {took:?}");
    }
    let request =
        b"GET /ProcessClaimSpecification/1/rivtabp21?wsdl HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let idle = net_support::idle_after_one_request((host, port), tls, request, give_up)
        .await
        .expect("an idle kept-alive connection is closed");
    // header_timeout_secs = 2 also bounds the wait for the next request on a kept-alive
    // connection (hyper restarts it after each answer): not before, and not long after.
    assert!(
        idle >= Duration::from_millis(1500) && idle < Duration::from_secs(15),
        "closed {idle:?} after the answer"
    );
}
