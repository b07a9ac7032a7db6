"""Drives the review pages of a sending region's store in a real browser: Debian's Chromium under
Playwright, presenting the region's official's certificate. Run by tests/review.rs, which starts
the exchange, has the hub withhold two bases and checks the disclosure log afterwards; this
script asserts what the official sees and decides KEEP on the second basis through the form.

Environment: STORE_URL; OFFICIAL_CERT/OFFICIAL_KEY (the region's assessor), OTHER_CERT/OTHER_KEY
(another region's reviewer); BASES, the two withheld ids "first,second"; SHOTS, where
screenshots go (optional); CHROMIUM (default /usr/bin/chromium).
"""

import os
import sys

from playwright.sync_api import expect, sync_playwright

URL = os.environ["STORE_URL"].rstrip("/")
FIRST, SECOND = os.environ["BASES"].split(",")
SHOTS = os.environ.get("SHOTS")


def context(browser, cert, key):
    return browser.new_context(
        client_certificates=[{"origin": URL, "certPath": cert, "keyPath": key}],
        ignore_https_errors=True,
        viewport={"width": 1280, "height": 860},
        locale="sv-SE",
    )


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def check_queue(page):
    r = page.goto(URL + "/staff/withheld?lang=en")
    assert r.status == 200, r.status
    expect(page.locator("h1")).to_have_text("Withheld bases")
    rows = page.locator("table.list tbody tr")
    expect(rows).to_have_count(2)
    for id in (FIRST, SECOND):
        expect(page.locator("table.list")).to_contain_text(id)
    expect(rows.first).to_contain_text("H3-psychiatry-minors")
    expect(rows.first).to_contain_text("Waiting")


def check_keep(page):
    page.click(f"text={SECOND}")
    expect(page.locator("h1")).to_contain_text(SECOND)
    why = page.locator("#why")
    expect(why).to_contain_text("H3-psychiatry-minors")
    expect(why).to_contain_text("Board decision")
    expect(why).to_contain_text("Region Stockholm")
    # The basis itself, as the staff pages show one.
    expect(page.locator("main")).to_contain_text("Patient 1")
    shot(page, "staff-withheld.png")
    # A decision needs a reason: the browser will not send the form without one.
    page.check("input[value=keep]")
    page.fill("input[name=reason]", "harm to the patient cannot be ruled out")
    page.click("#decide button[type=submit]")
    expect(page.locator("#decided")).to_contain_text("Kept withheld")
    expect(page.locator("#decided")).to_contain_text("SE2321000115-REVIEWER1")
    expect(page.locator("#decide")).to_have_count(0)


def check_other_region(browser):
    ctx = context(browser, os.environ["OTHER_CERT"], os.environ["OTHER_KEY"])
    page = ctx.new_page()
    for path in ("/staff/withheld", f"/staff/withheld/{FIRST}"):
        r = page.goto(URL + path + "?lang=en")
        assert r.status == 403, (path, r.status)
        expect(page.locator("p.error")).to_contain_text("may not review withheld bases")
    ctx.close()


def main():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
            args=["--no-sandbox"],
        )
        ctx = context(browser, os.environ["OFFICIAL_CERT"], os.environ["OFFICIAL_KEY"])
        page = ctx.new_page()
        for step in (check_queue, check_keep):
            print(f"review pages: {step.__name__}", file=sys.stderr)
            step(page)
        ctx.close()
        print("review pages: check_other_region", file=sys.stderr)
        check_other_region(browser)
        browser.close()
    print("review pages: all checks passed", file=sys.stderr)


if __name__ == "__main__":
    main()
