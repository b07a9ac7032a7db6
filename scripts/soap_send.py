#!/usr/bin/env python3
"""A region's existing system, as far as the exchange can tell: it calls ProcessClaimSpecification
over mutual TLS, one basis per call, LogicalAddress = the basis's customer, several calls at once,
and resends after a Fault (RIVTA BP 2.1 rule 22: 5 s, doubling, bounded). `make run` and
`make demo` send part of a region's month with it through the gateway.

usage: soap_send.py --url URL --ca CA --cert CERT --key KEY [--concurrency 10] [--out FILE] BASIS...

Each answer is one JSON line on --out (or stdout): {"basis_id", "file", "resultCode", "ids",
"fault", "ms", "attempts"}. Exit 0 when every call got an answer (OK or ERROR), 1 otherwise.
"""
import argparse
import concurrent.futures as cf
import json
import re
import sys
import threading
import time

import requests
import urllib3
from lxml import etree

urllib3.disable_warnings()
RSP = "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1"
CORE = "urn:riv:financial:billing:claim:1"
ACTION = RSP + ":ProcessClaimSpecification"

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--url", required=True)
p.add_argument("--ca", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--concurrency", type=int, default=10)
p.add_argument("--attempts", type=int, default=4)
p.add_argument("--out")
p.add_argument("files", nargs="+")
args = p.parse_args()

local = threading.local()


def session():
    if not hasattr(local, "s"):
        s = requests.Session()
        s.trust_env = False  # the federation CA, not the environment's bundle
        s.cert = (args.cert, args.key)
        s.verify = args.ca
        local.s = s
    return local.s


def envelope(path):
    doc = etree.parse(path).getroot()
    customer = doc.find(".//{%s}customerParty/{%s}identification/{%s}extension" % (CORE, CORE, CORE))
    basis_id = doc.find(".//{%s}claimSpecification/{%s}id" % (RSP, CORE))
    body = etree.tostring(doc, encoding="unicode")
    env = ('<?xml version="1.0" encoding="UTF-8"?>'
           '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
           'xmlns:itr="urn:riv:itintegration:registry:1"><soapenv:Header><itr:LogicalAddress>'
           '%s</itr:LogicalAddress></soapenv:Header><soapenv:Body>%s</soapenv:Body>'
           '</soapenv:Envelope>') % (customer.text.strip() if customer is not None else "", body)
    return env.encode(), (basis_id.text.strip() if basis_id is not None else None)


def call(path):
    data, basis_id = envelope(path)
    headers = {"Content-Type": "text/xml; charset=UTF-8", "SOAPAction": '"%s"' % ACTION}
    delay, fault, started = 5.0, None, time.monotonic()
    for attempt in range(1, args.attempts + 1):
        try:
            r = session().post(args.url, data=data, headers=headers, timeout=30)
            root = etree.fromstring(r.content)
            code = root.find(".//{%s}resultCode" % RSP)
            if code is not None:
                c = root.find(".//{%s}comment" % RSP)
                comment = c.text if c is not None else ""
                return {"basis_id": basis_id, "file": path, "resultCode": code.text,
                        "ids": re.findall(r"/ Id: ([^ /]+) /", comment or ""),
                        "ms": round((time.monotonic() - started) * 1000, 1), "attempts": attempt}
            fs = root.find(".//faultstring")
            fault = fs.text if fs is not None else r.text[:200]
            if r.status_code == 500 and fault.split(" ")[0] not in ("VP009",):
                break  # the caller's fault: sending it again will not help
        except (requests.RequestException, etree.XMLSyntaxError) as e:
            fault = str(e)
        time.sleep(delay)
        delay *= 2
    return {"basis_id": basis_id, "file": path, "resultCode": None, "fault": fault,
            "ms": round((time.monotonic() - started) * 1000, 1), "attempts": attempt}


out = open(args.out, "a") if args.out else sys.stdout
lock = threading.Lock()
failed = 0
with cf.ThreadPoolExecutor(max_workers=args.concurrency) as pool:
    for r in pool.map(call, args.files):
        with lock:
            out.write(json.dumps(r) + "\n")
            out.flush()
        failed += r["resultCode"] is None
sys.exit(1 if failed else 0)
