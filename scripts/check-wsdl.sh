#!/usr/bin/env bash
# Checks the SOAP contract files a gateway serves at ?wsdl, without building anything:
#   (a) every schema compiles and validates a small instance with xmllint (the header schema a
#       LogicalAddress, the responder schema every example basis in tests/data, the core schema
#       a claimSpecification through a throw-away wrapper schema);
#   (b) a SOAP client nobody here wrote (Python's zeep) loads the WSDL from the local files, finds
#       the operation ProcessClaimSpecification with its LogicalAddress header, and builds (never
#       sends) a request envelope per example basis; the envelope's header must carry the
#       LogicalAddress and its body child must validate against the responder schema. A fake
#       transport shows the HTTP headers zeep would send (SOAPAction) and parses a canned answer;
#   (c) zeep loads the same WSDL over HTTP from a loopback server laid out the way the gateway
#       will serve it (WSDL at <endpoint>?wsdl, schemas at the relative paths the WSDL names), so
#       the relative schemaLocations are proven to resolve.
# Installs what it lacks, and nothing when it is there: libxml2-utils (xmllint) from Debian,
# zeep and lxml from PyPI. Usage: scripts/check-wsdl.sh   (exit 0 = every check passed)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCHEMAS="$ROOT/schemas"
INTERACTION="$SCHEMAS/interactions/ProcessClaimSpecificationInteraction"
WSDL="$INTERACTION/ProcessClaimSpecificationInteraction_1.1_RIVTABP21.wsdl"
RESPONDER_XSD="$INTERACTION/ProcessClaimSpecificationResponder_1.1.xsd"
CORE_XSD="$SCHEMAS/core_components/claim_1.1.xsd"
REGISTRY_XSD="$SCHEMAS/core_components/itintegration_registry_1.0.xsd"
EXAMPLES=("$ROOT"/tests/data/*.xml)
PYTHON="${PYTHON:-python3}"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v xmllint >/dev/null 2>&1; then
    echo "check-wsdl: installing libxml2-utils (xmllint)" >&2
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends libxml2-utils >/dev/null
fi
if ! "$PYTHON" -c 'import zeep, lxml' >/dev/null 2>&1; then
    echo "check-wsdl: installing zeep and lxml" >&2
    "$PYTHON" -m pip install -q --disable-pip-version-check zeep lxml >&2
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "  ok    $*"; }
fail() { failed=$((failed + 1)); echo "  FAIL  $*"; }

# Runs xmllint --noout --schema SCHEMA INSTANCE; passes only when the schema compiles and the
# instance validates (xmllint exits 0; 3 = invalid, 5 = schema does not compile).
xsd_check() {
    local schema="$1" instance="$2" what="$3" out rc=0
    out="$(xmllint --noout --nonet --schema "$schema" "$instance" 2>&1)" || rc=$?
    if [ "$rc" -eq 0 ]; then ok "$what"; else fail "$what (xmllint exit $rc)"; echo "$out" | sed 's/^/        /' | head -20; fi
}

echo "== (a) schemas with xmllint ($(xmllint --version 2>&1 | head -1))"
[ -f "$WSDL" ] && ok "WSDL present: ${WSDL#"$ROOT"/}" || fail "WSDL missing: ${WSDL#"$ROOT"/}"
out="$(xmllint --noout --nonet "$WSDL" 2>&1)" && ok "WSDL is well-formed XML" || { fail "WSDL not well-formed"; echo "$out"; }

cat >"$TMP/logical-address.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<itr:LogicalAddress xmlns:itr="urn:riv:itintegration:registry:1">2321000016</itr:LogicalAddress>
EOF
xsd_check "$REGISTRY_XSD" "$TMP/logical-address.xml" "itintegration_registry_1.0.xsd compiles, validates <itr:LogicalAddress>"
cat >"$TMP/logical-address-wrong-ns.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<LogicalAddress xmlns="urn:riv:itintegration:registry:2">2321000016</LogicalAddress>
EOF
if xmllint --noout --nonet --schema "$REGISTRY_XSD" "$TMP/logical-address-wrong-ns.xml" >/dev/null 2>&1; then
    fail "itintegration_registry_1.0.xsd accepted a LogicalAddress in a wrong namespace"
else
    ok "itintegration_registry_1.0.xsd rejects a LogicalAddress in a wrong namespace"
fi

# The core schema has no global element: wrap it in a throw-away schema that imports it by its
# real path and declares one element of its ProcessClaimSpecificationType.
cat >"$TMP/core-wrapper.xsd" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:core="urn:riv:financial:billing:claim:1"
           targetNamespace="urn:invoice-hub:check-wsdl" elementFormDefault="qualified">
  <xs:import namespace="urn:riv:financial:billing:claim:1" schemaLocation="file://$CORE_XSD"/>
  <xs:element name="claimSpecification" type="core:ProcessClaimSpecificationType"/>
</xs:schema>
EOF
for ex in "${EXAMPLES[@]}"; do
    name="$(basename "$ex")"
    xsd_check "$RESPONDER_XSD" "$ex" "ProcessClaimSpecificationResponder_1.1.xsd validates tests/data/$name"
    # The same basis one level down, its claimSpecification moved into the wrapper's namespace.
    "$PYTHON" - "$ex" "$TMP/core-$name" <<'EOF'
import sys
from lxml import etree
doc = etree.parse(sys.argv[1], etree.XMLParser(resolve_entities=False, no_network=True))
cs = doc.getroot().find("{urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1}claimSpecification")
cs.tag = "{urn:invoice-hub:check-wsdl}claimSpecification"
etree.ElementTree(cs).write(sys.argv[2], xml_declaration=True, encoding="UTF-8")
EOF
    xsd_check "$TMP/core-wrapper.xsd" "$TMP/core-$name" "claim_1.1.xsd (core) validates the claimSpecification of $name"
done

echo "== (b)+(c) WSDL with zeep"
set +e
"$PYTHON" - "$WSDL" "$RESPONDER_XSD" "$REGISTRY_XSD" "$SCHEMAS" "$TMP" "${EXAMPLES[@]}" <<'EOF'
import contextlib, io, os, sys, threading, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
import zeep
from lxml import etree

wsdl_path, responder_xsd, registry_xsd, schemas_dir, tmp = sys.argv[1:6]
examples = sys.argv[6:]

RSP = "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1"
ITR = "urn:riv:itintegration:registry:1"
TNS = "urn:riv:financial:billing:claim:ProcessClaimSpecification:1:rivtabp21"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ACTION = RSP + ":ProcessClaimSpecification"
RECEIVER = "2321000016"

passed = failed = 0
def check(cond, what, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("  ok    " + what)
    else:
        failed += 1
        print("  FAIL  " + what + (("\n        " + detail) if detail else ""))
    return cond

print("  zeep %s, lxml %s" % (zeep.__version__, etree.__version__))
parser = etree.XMLParser(resolve_entities=False, no_network=True)
responder_schema = etree.XMLSchema(etree.parse(responder_xsd))
registry_schema = etree.XMLSchema(etree.parse(registry_xsd))


class FakeTransport(zeep.Transport):
    """Sends nothing: records what zeep would POST and answers with a canned OK."""
    ANSWER = (
        '<soap:Envelope xmlns:soap="%s"><soap:Body>'
        '<r:ProcessClaimSpecificationResponse xmlns:r="%s"><r:resultCode>OK</r:resultCode>'
        '</r:ProcessClaimSpecificationResponse></soap:Body></soap:Envelope>' % (SOAPENV, RSP)
    ).encode()

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.sent = []

    def post_xml(self, address, envelope, headers):
        self.sent.append((address, etree.tostring(envelope), dict(headers)))
        r = requests.Response()
        r.status_code = 200
        r.headers["Content-Type"] = "text/xml; charset=UTF-8"
        r._content = self.ANSWER
        r.url = address
        return r


def inspect(client, label):
    """The operation, its header and soapAction as zeep understood them."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        client.wsdl.dump()
    dump = out.getvalue()
    svc = client.wsdl.services.get("ProcessClaimSpecificationResponderService")
    port = svc.ports.get("ProcessClaimSpecificationResponderPort") if svc else None
    check(port is not None, label + ": service ProcessClaimSpecificationResponderService / port ProcessClaimSpecificationResponderPort")
    if port is None:
        print(dump)
        return None, dump
    binding = port.binding
    bname, pname = etree.QName(binding.name), etree.QName(binding.port_type.name)
    check((bname.namespace, bname.localname) == (TNS, "ProcessClaimSpecificationResponderBinding"),
          label + ": binding {%s}ProcessClaimSpecificationResponderBinding" % TNS, bname.text)
    check((pname.namespace, pname.localname) == (TNS, "ProcessClaimSpecificationResponderInterface"),
          label + ": portType ProcessClaimSpecificationResponderInterface", pname.text)
    check(type(binding).__name__ == "Soap11Binding", label + ": SOAP 1.1 binding", type(binding).__name__)
    op = binding._operations.get("ProcessClaimSpecification")
    if not check(op is not None, label + ": operation ProcessClaimSpecification", dump):
        return None, dump
    check(op.soapaction == SOAP_ACTION and op.style == "document",
          label + ": soapAction %s, style document" % SOAP_ACTION, "%r %r" % (op.soapaction, op.style))
    hdr = op.input.header
    hdr_qnames = [str(q) for q in ([e.qname for _, e in hdr.type.elements] if hdr else [])]
    check("{%s}LogicalAddress" % ITR in hdr_qnames,
          label + ": input header {%s}LogicalAddress" % ITR, "header elements: %r" % hdr_qnames)
    check(str(op.input.body.qname) == "{%s}ProcessClaimSpecification" % RSP,
          label + ": input body {%s}ProcessClaimSpecification" % RSP, str(op.input.body.qname))
    check(str(op.output.body.qname) == "{%s}ProcessClaimSpecificationResponse" % RSP and not op.output.header.type.elements,
          label + ": output body ProcessClaimSpecificationResponse, no output header",
          "%s %r" % (op.output.body.qname, op.output.header))
    return op, dump


def check_envelope(env, label):
    header = env.find("{%s}Header" % SOAPENV)
    body = env.find("{%s}Body" % SOAPENV)
    la = header.findall("{%s}LogicalAddress" % ITR) if header is not None else []
    check(len(la) == 1 and la[0].text == RECEIVER,
          label + ": soap:Header carries exactly one itr:LogicalAddress = " + RECEIVER,
          etree.tostring(header).decode() if header is not None else "no soap:Header")
    if la:
        check(registry_schema.validate(la[0]), label + ": header LogicalAddress valid against itintegration_registry_1.0.xsd",
              str(registry_schema.error_log))
    children = list(body) if body is not None else []
    check(len(children) == 1 and children[0].tag == "{%s}ProcessClaimSpecification" % RSP,
          label + ": soap:Body has one child rsp:ProcessClaimSpecification", repr([c.tag for c in children]))
    if children:
        # validate a standalone copy so the envelope's context plays no part
        child = etree.fromstring(etree.tostring(children[0]))
        check(responder_schema.validate(child), label + ": body child valid against ProcessClaimSpecificationResponder_1.1.xsd",
              str(responder_schema.error_log))


BOOLEANS = {"{urn:riv:financial:billing:claim:1}" + n
            for n in ("publicCare", "plannedHealthcare", "patientFreePassCauseIndicator")}

def same_basis(a, b):
    """Compare two claimSpecification trees by tags, attributes, text and order (prefixes and
    whitespace aside; an xs:boolean's 1/0 counts as true/false, which is what zeep writes)."""
    def norm(e):
        if not isinstance(e.tag, str):
            return None
        kids = [n for n in (norm(c) for c in e) if n is not None]
        text = (e.text or "").strip() if not kids else ""
        if e.tag in BOOLEANS:
            text = {"1": "true", "0": "false"}.get(text, text)
        return (e.tag, sorted(e.attrib.items()), text, kids)
    return norm(a) == norm(b)


# ---- (b) from the local files ---------------------------------------------------------------
wsdl_url = "file://" + os.path.abspath(wsdl_path)
print("  loading " + wsdl_url)
transport = FakeTransport()
client = zeep.Client(wsdl_url, transport=transport)
op, dump = inspect(client, "file")
print("  --- client.wsdl.dump(), from Bindings: on ---")
print("\n".join("  | " + l for l in dump[dump.find("Bindings:"):].rstrip().splitlines()))
print("  ---")
check("_soapheaders={LogicalAddress: " in dump, "file: dump shows the operation with _soapheaders={LogicalAddress: ...}")
check(client.service._binding_options["address"] == "https://localhost/ProcessClaimSpecification/1/rivtabp21",
      "file: soap:address placeholder https://localhost/ProcessClaimSpecification/1/rivtabp21",
      client.service._binding_options["address"])

request_element = client.get_element("{%s}ProcessClaimSpecification" % RSP)
first = True
for ex in examples:
    name = os.path.basename(ex)
    root = etree.parse(ex, parser).getroot()
    # the example basis parsed into zeep's own objects from the schema types
    value = request_element.parse(root, client.wsdl.types)
    env = client.create_message(client.service, "ProcessClaimSpecification",
                                claimSpecification=value.claimSpecification,
                                _soapheaders={"LogicalAddress": RECEIVER})
    text = etree.tostring(env, pretty_print=True, encoding="unicode")
    with open(os.path.join(tmp, "envelope-" + name), "w") as f:
        f.write(text)
    if first:
        print("  --- envelope zeep built for %s ---" % name)
        print("\n".join("  | " + l for l in text.splitlines()))
        print("  ---")
        first = False
    check_envelope(env, "create_message(%s)" % name)
    # (a fresh parse: zeep moves the xs:any extension elements out of the tree it parsed)
    original = etree.parse(ex, parser).getroot()
    sent_cs = env.find("{%s}Body/{%s}ProcessClaimSpecification/{%s}claimSpecification" % (SOAPENV, RSP, RSP))
    check(sent_cs is not None and same_basis(sent_cs, original.find("{%s}claimSpecification" % RSP)),
          "create_message(%s): the basis survives zeep's round trip unchanged" % name)

# The other header form zeep accepts: a list of ready lxml elements (LogicalAddress is a simple
# type, client.get_element(...)(RECEIVER) gives a plain str, which zeep refuses in that list).
la = etree.Element("{%s}LogicalAddress" % ITR, nsmap={"itr": ITR})
la.text = RECEIVER
env = client.create_message(client.service, "ProcessClaimSpecification",
                            claimSpecification=value.claimSpecification, _soapheaders=[la])
check_envelope(env, "create_message with _soapheaders=[lxml itr:LogicalAddress]")

# Without _soapheaders zeep raises nothing and simply sends no header: the gateway must answer
# that itself (as the platform does with VP003), a client cannot be relied on to have sent one.
env = client.create_message(client.service, "ProcessClaimSpecification",
                            claimSpecification=value.claimSpecification)
missing = env.find("{%s}Header/{%s}LogicalAddress" % (SOAPENV, ITR))
print("  note  without _soapheaders zeep builds an envelope %s LogicalAddress header"
      % ("WITH a" if missing is not None else "with no"))

# A call through the fake transport: the HTTP headers zeep would send, and the answer parsed.
result = client.service.ProcessClaimSpecification(claimSpecification=value.claimSpecification,
                                                  _soapheaders={"LogicalAddress": RECEIVER})
address, sent, headers = transport.sent[-1]
print("  zeep would POST to %s with headers %r" % (address, headers))
check(headers.get("SOAPAction") in (SOAP_ACTION, '"%s"' % SOAP_ACTION),
      "call: SOAPAction header names the contract's soapAction", repr(headers.get("SOAPAction")))
check(headers.get("SOAPAction") == '"%s"' % SOAP_ACTION, "call: zeep quotes the SOAPAction", repr(headers.get("SOAPAction")))
check_envelope(etree.fromstring(sent), "call")
check(result.resultCode == "OK" and result.comment is None, "call: canned answer parsed as resultCode OK, no comment", repr(result))

# ---- (c) over HTTP, laid out the way the gateway will serve it ------------------------------
ENDPOINT = "/ProcessClaimSpecification/1/rivtabp21"
base = os.path.dirname(ENDPOINT) + "/"
served = {  # URL path -> file; the relative references of the WSDL and the responder schema
    urllib.parse.urljoin(base, "ProcessClaimSpecificationResponder_1.1.xsd"): responder_xsd,
    urllib.parse.urljoin(base, "../../core_components/itintegration_registry_1.0.xsd"): registry_xsd,
    urllib.parse.urljoin(base, "../../core_components/claim_1.1.xsd"): os.path.join(schemas_dir, "core_components/claim_1.1.xsd"),
}
requested = []

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_GET(self):
        requested.append(self.path)
        path, _, query = self.path.partition("?")
        if path == ENDPOINT and query.lower() == "wsdl":
            host = self.headers.get("Host")
            data = open(wsdl_path, "rb").read().replace(
                b"https://localhost/ProcessClaimSpecification/1/rivtabp21",
                ("http://%s%s" % (host, ENDPOINT)).encode())
        elif path in served and not query:
            data = open(served[path], "rb").read()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    url = "http://127.0.0.1:%d%s?wsdl" % (server.server_port, ENDPOINT)
    print("  loading " + url)
    http_client = zeep.Client(url, transport=FakeTransport())
    inspect(http_client, "http")
    print("  zeep fetched: " + ", ".join(requested))
    check(sorted(p for p in requested if "?" not in p) == sorted(served),
          "http: zeep fetched exactly the relative schema paths " + ", ".join(sorted(served)), repr(requested))
    check(http_client.service._binding_options["address"] == "http://127.0.0.1:%d%s" % (server.server_port, ENDPOINT),
          "http: zeep uses the soap:address the server rewrote", http_client.service._binding_options["address"])
    env = http_client.create_message(http_client.service, "ProcessClaimSpecification",
                                     claimSpecification=value.claimSpecification,
                                     _soapheaders={"LogicalAddress": RECEIVER})
    check_envelope(env, "http: create_message")
finally:
    server.shutdown()

print("zeep: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
EOF
zrc=$?
set -e
if [ "$zrc" -eq 0 ]; then ok "zeep checks"; else fail "zeep checks (exit $zrc)"; fi

# Independently of zeep's own view: grep the envelopes it wrote, and xmllint their body child.
for env in "$TMP"/envelope-*.xml; do
    [ -e "$env" ] || { fail "no envelope written by zeep"; break; }
    name="$(basename "$env")"
    if grep -Eq "<[A-Za-z0-9_]+:LogicalAddress xmlns:[A-Za-z0-9_]+=\"urn:riv:itintegration:registry:1\">2321000016</" "$env" \
        || grep -Eq "<[A-Za-z0-9_]+:LogicalAddress>2321000016</" "$env"; then
        ok "grep: $name has the LogicalAddress header"
    else
        fail "grep: $name has no LogicalAddress header"
    fi
    "$PYTHON" - "$env" "$TMP/body-$name" <<'EOF'
import sys
from lxml import etree
env = etree.parse(sys.argv[1])
body = env.getroot().find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
etree.ElementTree(etree.fromstring(etree.tostring(body[0]))).write(sys.argv[2], xml_declaration=True, encoding="UTF-8")
EOF
    xsd_check "$RESPONDER_XSD" "$TMP/body-$name" "xmllint: body child of $name valid against the responder schema"
done

echo "check-wsdl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
