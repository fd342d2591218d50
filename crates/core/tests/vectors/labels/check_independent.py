#!/usr/bin/env python3
"""Independent reproduction of the golden label with cbor2 + cryptography (no cyberlabel code).

From the vector's human-readable fields only (the claim as JSON, the RFC 8032 test secret key and
the URL base), rebuild every byte the Rust code produced, following docs/FORMATS.md:
  - the claim map (§1, claim format 2: integer keys 1..=15, no format number, keys left out when
    their value is the default (catalog version 1, no hardware versions, self-declared, no
    predecessor), the registered scheme's code, names as packed text when shorter, dates as day
    numbers, the provisions bitset, the lab's code looked up by its id in the builtin catalog
    JSON), canonical CBOR;
  - the public key and kid (first 8 bytes of SHA-256 of the public key);
  - the protected header {1: -8, 4: kid}, the Sig_structure ["Signature1", protected, h'', payload],
    the Ed25519 signature (deterministic), and the tagged COSE_Sign1 (tag 18, empty unprotected);
  - the QR digits (§3: 7-byte chunks as 17 decimal digits, the last chunk by the table) and the
    URL and CL1 forms;
and require each to equal the stored hex/text. Also verifies the stored signature.

Exit 0 = every byte reproduced (stdout: "OK: ..."); 10 = a mismatch (stderr: "MISMATCH <field>");
3 = cbor2/cryptography missing; a crash is Python's 1. Run by crates/core/tests/golden_label.rs
(`cargo xtask test` provides a venv with the tools in $CYBERLABEL_PYTHON).
(pycose 1.1.0 cannot decode any COSE message with cbor2 >= 6 installed, which decodes arrays as
tuples and maps as frozendicts; hence the direct construction.)
Usage: python3 check_independent.py [typical-label.json]
"""
import hashlib
import json
import pathlib
import sys

try:
    import cbor2
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
except ImportError as e:
    print(f"missing python module {e.name}: `pip install cbor2 cryptography` "
          "(or `cargo xtask setup`)", file=sys.stderr)
    sys.exit(3)

MISMATCH = 10
DAY = 86400
# digits for a final chunk of k bytes (FORMATS §3); a full 7-byte chunk takes 17
LAST_CHUNK_DIGITS = [0, 3, 5, 8, 10, 13, 15, 17]


def expect(field, got, want):
    if got != want:
        print(f"MISMATCH {field}:\n  independent: {got!r}\n  stored:      {want!r}", file=sys.stderr)
        sys.exit(MISMATCH)


# FORMATS §1: registered scheme ids travel as these codes
SCHEME_CODES = {"SG-CLS": 1, "US-CTM": 2, "DE-BSI": 3, "FI-TRAFICOM": 4, "JP-JCSTAR": 5, "KR-CIC": 6}
# FORMATS §1 packed text: 63 primary symbols, 63 = escape to the other printable ASCII
PRIMARY = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz "
SECONDARY = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in PRIMARY)
CATALOG = pathlib.Path(__file__).resolve().parents[3] / "catalog" / "schemes.json"


def packed(text):
    """Packed bytes of text, or None if a character is not printable ASCII."""
    bits = ""
    for ch in text:
        if ch in PRIMARY:
            bits += format(PRIMARY.index(ch), "06b")
        elif ch in SECONDARY:
            bits += "111111" + format(SECONDARY.index(ch), "06b")
        else:
            return None
    bits += "1" * (-len(bits) % 8)
    return bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))


def text_field(text):
    p = packed(text)
    return p if p is not None and len(p) < len(text.encode()) else text


def lab_code(scheme, lab_id):
    labs = json.loads(CATALOG.read_text())["labs"]
    [code] = [l["code"] for l in labs if l["scheme"] == scheme and l["id"] == lab_id]
    return code


def claim_map(c):
    """The claim map of FORMATS §1, from the vector's JSON claim (dates in Unix seconds)."""
    bits = bytearray()
    for i in c["provisions"]:
        while len(bits) <= i // 8:
            bits.append(0)
        bits[i // 8] |= 1 << (i % 8)
    while bits and bits[-1] == 0:
        bits.pop()
    m = {
        1: SCHEME_CODES.get(c["scheme"], c["scheme"]),
        3: c["level"],
        4: text_field(c["manufacturer"]),
        5: text_field(c["product"]),
        7: text_field(c["firmware_versions"]),
        8: c["category"],
        9: c["issued_at"] // DAY,
        10: c["expires_at"] // DAY,
        11: c["support_end"] // DAY,
        12: bytes(bits),
        14: c["serial"],
    }
    # keys whose value is what their absence means are left out
    if c["catalog_version"] != 1:
        m[2] = c["catalog_version"]
    if c["hardware_versions"]:
        m[6] = text_field(c["hardware_versions"])
    if c.get("lab") is not None:
        m[13] = lab_code(c["scheme"], c["lab"])
    if c.get("supersedes") is not None:
        m[15] = c["supersedes"]
    return m


def digits(label):
    out = []
    for i in range(0, len(label), 7):
        chunk = label[i:i + 7]
        out.append(str(int.from_bytes(chunk, "big")).zfill(LAST_CHUNK_DIGITS[len(chunk)]))
    return "".join(out)


def main():
    path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1
                        else pathlib.Path(__file__).with_name("typical-label.json"))
    v = json.loads(path.read_text())

    c = v["claim"]
    if c.get("lab") is not None:
        expect("lab_code (by the lab id in the catalog)", lab_code(c["scheme"], c["lab"]), c["lab_code"])
    payload = cbor2.dumps(claim_map(c), canonical=True)
    expect("claim_cbor_hex", payload.hex(), v["claim_cbor_hex"])
    # canonical = sorted keys, shortest heads: decoding and re-encoding changes nothing
    expect("claim canonical", cbor2.dumps(dict(cbor2.loads(payload)), canonical=True), payload)

    sk = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(v["secret_key_hex"]))
    pk = sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    expect("public_key_hex", pk.hex(), v["public_key_hex"])
    kid = hashlib.sha256(pk).digest()[:8]
    expect("kid_hex", kid.hex(), v["kid_hex"])

    protected = cbor2.dumps({1: -8, 4: kid}, canonical=True)
    tbs = cbor2.dumps(["Signature1", protected, b"", payload])
    signature = sk.sign(tbs)
    label = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, signature]))
    expect("label_hex", label.hex(), v["label_hex"])

    # the stored label verifies on its own, too
    tag = cbor2.loads(bytes.fromhex(v["label_hex"]))
    expect("COSE tag", tag.tag, 18)
    s_protected, s_unprotected, s_payload, s_signature = tag.value
    expect("unprotected header", dict(s_unprotected), {})
    Ed25519PublicKey.from_public_bytes(pk).verify(
        s_signature, cbor2.dumps(["Signature1", s_protected, b"", s_payload]))

    d = digits(label)
    base = v["url"].split("#", 1)[0]
    expect("url", f"{base}#{d}", v["url"])
    expect("cl1", f"CL1:{d}", v["cl1"])
    print(f"OK: independently reproduced the claim ({len(payload)} B), label ({len(label)} B), "
          f"signature, kid and QR digits ({len(d)})")


if __name__ == "__main__":
    main()
