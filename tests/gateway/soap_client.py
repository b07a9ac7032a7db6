#!/usr/bin/env python3
"""A SOAP client nobody here wrote, calling the gateway: Python's zeep loads the WSDL the gateway
serves and calls ProcessClaimSpecification; hand-written envelopes (the prefixes SoapUI and .NET
clients write) go with requests. Used by tests/gateway_soap.rs, which writes the plan and checks
what comes back.

usage: soap_client.py PLAN.json      (prints one JSON list of results on stdout)

PLAN = {
  "wsdl": "https://127.0.0.1:PORT/ProcessClaimSpecification/1/rivtabp21?wsdl",
  "ca": "pki/ca.pem",
  "schemas_out": "DIR",                  # where the served WSDL and schemas are saved
  "xmllint": ["basis.xml", ...],         # validated with xmllint against the served schemas
  "calls": [{"name": "...", "cert": "...", "key": "...",
             "via": "zeep" | "raw",
             "basis": "FILE"              (zeep: a ProcessClaimSpecification document)
             "envelope": "FILE"           (raw: a whole SOAP envelope, sent as it is)
             "logical_address": "2321000016" | null,   (zeep)
             "headers": {"x-rivta-original-serviceconsumer-hsaid": "..."},
             "soap_action": "..." | null}]           (raw)
}
A result: {"name", "kind": "answer" | "fault" | "refused", "resultCode", "comment", "ids",
           "fault", "http"}.
"""
import json
import os
import re
import subprocess
import sys
import urllib.parse

import requests
import urllib3
import zeep
import zeep.exceptions
from lxml import etree

urllib3.disable_warnings()

RSP = "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"

plan = json.load(open(sys.argv[1]))
CA = plan["ca"]
clients = {}


def session(cert, key, headers):
    s = requests.Session()
    # Not the environment's CA bundle (REQUESTS_CA_BUNDLE would replace `verify`), nor its
    # proxies: the federation CA only, loopback only.
    s.trust_env = False
    s.cert = (cert, key)
    s.verify = CA
    s.headers.update(headers or {})
    return s


def zeep_client(cert, key, headers):
    k = (cert, key, json.dumps(headers or {}, sort_keys=True))
    if k not in clients:
        transport = zeep.Transport(session=session(cert, key, headers), timeout=60,
                                   operation_timeout=60)
        clients[k] = zeep.Client(plan["wsdl"], transport=transport)
    return clients[k]


def ids_of(comment):
    return re.findall(r"/ Id: ([^ /]+) /", comment or "")


def answer_of(text, http):
    root = etree.fromstring(text)
    code = root.find(".//{%s}resultCode" % RSP)
    if code is not None:
        comment = root.find(".//{%s}comment" % RSP)
        c = comment.text if comment is not None else None
        return {"kind": "answer", "resultCode": code.text, "comment": c, "ids": ids_of(c),
                "http": http}
    fs = root.find(".//faultstring")
    return {"kind": "fault", "fault": fs.text if fs is not None else text.decode(), "http": http}


def call_zeep(c):
    client = zeep_client(c["cert"], c["key"], c.get("headers"))
    element = client.get_element("{%s}ProcessClaimSpecification" % RSP)
    value = element.parse(etree.parse(c["basis"]).getroot(), client.wsdl.types)
    kwargs = {"claimSpecification": value.claimSpecification}
    if c.get("logical_address") is not None:
        kwargs["_soapheaders"] = {"LogicalAddress": c["logical_address"]}
    try:
        r = client.service.ProcessClaimSpecification(**kwargs)
    except zeep.exceptions.Fault as f:
        return {"kind": "fault", "fault": f.message, "http": 500}
    return {"kind": "answer", "resultCode": r.resultCode, "comment": r.comment,
            "ids": ids_of(r.comment), "http": 200}


def call_raw(c):
    address = plan["wsdl"].split("?")[0]
    headers = {"Content-Type": "text/xml; charset=UTF-8"}
    if c.get("soap_action") is not None:
        headers["SOAPAction"] = c["soap_action"]
    headers.update(c.get("headers") or {})
    r = session(c["cert"], c["key"], None).post(
        address, data=open(c["envelope"], "rb").read(), headers=headers, timeout=60)
    return answer_of(r.content, r.status_code)


def saved_schemas():
    """The WSDL and every schema it (transitively) imports, fetched from the gateway and saved
    under schemas_out at their URL paths; returns the responder schema's file."""
    first = plan["calls"][0]
    s = session(first["cert"], first["key"], None)
    out = plan["schemas_out"]
    todo, seen, responder = [plan["wsdl"]], set(), None
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        r = s.get(url, timeout=30)
        r.raise_for_status()
        path = urllib.parse.urlparse(url).path.lstrip("/") or "index"
        if "?" in url:
            path += ".wsdl"
        dest = os.path.join(out, path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        open(dest, "wb").write(r.content)
        if dest.endswith("ProcessClaimSpecificationResponder_1.1.xsd"):
            responder = dest
        for loc in etree.fromstring(r.content).xpath("//@schemaLocation"):
            todo.append(urllib.parse.urljoin(url.split("?")[0], loc))
    return responder, sorted(seen)


results = []
for c in plan["calls"]:
    try:
        r = call_zeep(c) if c["via"] == "zeep" else call_raw(c)
    except (requests.exceptions.SSLError, requests.exceptions.ConnectionError) as e:
        r = {"kind": "refused", "fault": str(e)}
    r["name"] = c["name"]
    results.append(r)

if plan.get("xmllint"):
    responder, fetched = saved_schemas()
    for f in plan["xmllint"]:
        p = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", responder, f],
                           capture_output=True, text=True)
        results.append({"name": "xmllint " + os.path.basename(f), "kind": "xmllint",
                        "rc": p.returncode, "fault": p.stderr[-2000:], "fetched": fetched})

print(json.dumps(results, indent=1))
