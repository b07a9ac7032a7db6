"""Drives a store's staff pages in a real browser: Debian's Chromium under Playwright, presenting
a staff certificate (Playwright's client certificates). Run by tests/staff_pages.rs, which starts
the store, delivers the bases and checks the access log afterwards; this script asserts what a
person sees and does, and exits non-zero on the first thing that is not as it should be.

Environment: STORE_URL; STAFF_CERT/STAFF_KEY (the store's region's staff), OTHER_CERT/OTHER_KEY
(another region's staff); REVIEWER_CERT/REVIEWER_KEY (the region's reviewer); BASES, the delivered ids "skåne1,skåne2,halland1"; HALLAND, the second
sender's organisation number; PERSONNUMMER, the patient's; SHOTS, where screenshots go (optional);
CHROMIUM (default /usr/bin/chromium).
"""

import csv
import io
import os
import sys

from playwright.sync_api import expect, sync_playwright

URL = os.environ["STORE_URL"].rstrip("/")
SKANE1, SKANE2, HALLAND1 = os.environ["BASES"].split(",")
HALLAND = os.environ["HALLAND"]
PNR = os.environ["PERSONNUMMER"]
SHOTS = os.environ.get("SHOTS")


def context(browser, cert, key):
    return browser.new_context(
        client_certificates=[{"origin": URL, "certPath": cert, "keyPath": key}],
        ignore_https_errors=True,
        accept_downloads=True,
        viewport={"width": 1280, "height": 860},
        locale="sv-SE",
    )


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def check_list(page):
    r = page.goto(URL + "/staff")
    assert r.status == 200, r.status
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "script-src" not in csp, csp
    assert r.headers.get("cache-control") == "no-store"
    expect(page.locator("h1")).to_have_text("Inkomna fakturaunderlag")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(3)
    first = page.locator(f'tr[data-id="{SKANE1}"]')
    expect(first).to_contain_text("Region Skåne")
    expect(first).to_contain_text("Ny")
    expect(first.locator("td.num").first).to_contain_text("kr")
    # No patient data on the list.
    assert PNR not in page.content() and PNR[:8] not in page.content()
    shot(page, "staff-list.png")
    # English, and the filter by sender.
    page.goto(URL + "/staff?lang=en")
    expect(page.locator("h1")).to_have_text("Invoice bases received")
    page.select_option("select[name=sender]", HALLAND)
    page.click("form.filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(page.locator(f'tr[data-id="{HALLAND1}"]')).to_contain_text("Region Halland")
    # A period with nothing in it.
    page.fill("input[name=from]", "2001-01-01")
    page.fill("input[name=to]", "2001-01-31")
    page.click("form.filters button[type=submit]")
    expect(page.locator("p.empty")).to_be_visible()
    # A broken filter gets a page that names the field.
    r = page.goto(URL + "/staff?lang=en&from=yesterday")
    assert r.status == 400, r.status
    expect(page.locator("p.error")).to_contain_text("from: a date is YYYY-MM-DD")


def check_basis(page):
    page.goto(URL + "/staff?lang=en")
    page.click(f'a[href^="/staff/claims/{SKANE1}"]')
    expect(page.locator("h1")).to_contain_text(SKANE1)
    expect(page.locator("h1 .state")).to_have_text("Opened")
    expect(page.locator("section.patient h2").first).to_have_text("Patient 1")
    expect(page.locator("section.patient").first).to_contain_text(PNR[:8] + "-" + PNR[8:])
    expect(page.locator("p.check.ok")).to_be_visible()
    expect(page.locator("dl.facts").first).to_contain_text("Invoice")
    shot(page, "staff-basis.png")

    # The print view: the same basis, no buttons, who printed it.
    page.click("text=Print view")
    expect(page.locator("p.printed")).to_contain_text("Printed by")
    expect(page.locator("section.decide")).to_have_count(0)
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    page.emulate_media(media="screen")

    # The XML, as a download.
    page.goto(URL + f"/staff/claims/{SKANE1}?lang=en")
    with page.expect_download() as d:
        page.click("text=Download the XML")
    xml = open(d.value.path(), "rb").read().decode()
    assert d.value.suggested_filename == f"{SKANE1}.xml", d.value.suggested_filename
    assert SKANE1 in xml and "ProcessClaimSpecification" in xml

    # Processed.
    page.click("button[value=processed]")
    expect(page.locator("h1 .state")).to_have_text("Processed")
    expect(page.locator("p.decided")).to_contain_text("Processed")
    expect(page.locator("section.decide")).to_have_count(0)


def check_dispute(page):
    page.goto(URL + f"/staff/claims/{SKANE2}?lang=en")
    # A reason holding a personnummer is refused, and nothing changes.
    page.fill("input[name=reason]", f"patient {PNR} was never here")
    page.click("button[value=disputed]")
    expect(page.locator("p.error")).to_contain_text("personal identity number")
    page.goto(URL + f"/staff/claims/{SKANE2}?lang=en")
    expect(page.locator("h1 .state")).to_have_text("Opened")
    page.fill("input[name=reason]", "Wrong price list: 2025 prices used")
    page.click("button[value=disputed]")
    expect(page.locator("h1 .state")).to_have_text("Disputed")
    expect(page.locator("p.decided")).to_contain_text("Wrong price list")
    # The list by state.
    page.goto(URL + "/staff?lang=en&state=disputed")
    expect(page.locator("table.list tbody tr")).to_have_count(1)
    expect(page.locator(f'tr[data-id="{SKANE2}"] .state')).to_have_text("Disputed")


def check_export(page):
    page.goto(URL + "/staff?lang=en")
    with page.expect_download() as d:
        page.click("text=Export the selection as CSV")
    text = open(d.value.path(), "rb").read().decode()
    assert PNR not in text and PNR[:8] not in text, "the export holds the patient's identity"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["basis_id"] for r in rows] == [SKANE1, SKANE2, HALLAND1], rows
    assert set(rows[0]) == {
        "basis_id", "invoice_id", "sender", "sender_name", "issue_date", "payable_amount",
        "currency", "lines", "received_at", "state", "sha256",
    }, rows[0].keys()
    states = {r["basis_id"]: r["state"] for r in rows}
    assert states == {SKANE1: "processed", SKANE2: "disputed", HALLAND1: "new"}, states
    assert rows[2]["sender"] == HALLAND and rows[0]["currency"] == "SEK"
    float(rows[0]["payable_amount"])


def check_other_region(browser):
    ctx = context(browser, os.environ["OTHER_CERT"], os.environ["OTHER_KEY"])
    page = ctx.new_page()
    r = page.goto(URL + "/staff?lang=en")
    assert r.status == 403, r.status
    expect(page.locator("p.error")).to_contain_text("Access refused")
    assert SKANE1 not in page.content()
    r = page.goto(URL + f"/staff/claims/{SKANE1}")
    assert r.status == 403, r.status
    assert PNR[:8] not in page.content()
    ctx.close()


def check_review(browser):
    """The reviewer's page: the access review of this store's log; the readers may not see it."""
    ctx = context(browser, os.environ["REVIEWER_CERT"], os.environ["REVIEWER_KEY"])
    page = ctx.new_page()
    r = page.goto(URL + "/staff/review?lang=en&many=1")
    assert r.status == 200, r.status
    expect(page.locator("h1")).to_have_text("Access review")
    ident = page.locator("table.list").first.locator("tbody tr")
    expect(ident).to_have_count(1)
    expect(ident.first).to_contain_text("SE2321000016-READER1")
    expect(page.locator("#unsettled + ul li")).to_have_count(1)
    expect(page.locator("#unsettled + ul")).to_contain_text(HALLAND1)
    assert PNR not in page.content() and PNR[:8] not in page.content()
    shot(page, "staff-review.png")
    ctx.close()


def check_review_is_the_reviewers(page):
    r = page.goto(URL + "/staff/review?lang=en")
    assert r.status == 403, r.status
    expect(page.locator("p.error")).to_contain_text("Access refused")


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox"],
        )
        ctx = context(browser, os.environ["STAFF_CERT"], os.environ["STAFF_KEY"])
        page = ctx.new_page()
        steps = (check_list, check_basis, check_dispute, check_export, check_review_is_the_reviewers)
        for step in steps:
            print(f"staff pages: {step.__name__}", file=sys.stderr)
            step(page)
        ctx.close()
        print("staff pages: check_other_region", file=sys.stderr)
        check_other_region(browser)
        print("staff pages: check_review", file=sys.stderr)
        check_review(browser)
        browser.close()
    print("staff pages: all checks passed", file=sys.stderr)


if __name__ == "__main__":
    main()
