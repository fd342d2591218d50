#!/usr/bin/env python3
"""Verify a cyberlabel label (COSE_Sign1, EdDSA) with Python's pycose, an independent COSE
implementation, given only the issuer's SPKI PEM public key; print the claim map (integer keys) as JSON.

Usage: pycose_verify.py LABEL.cbor ISSUER.pub.pem
Exit codes, each distinct from Python's own 1 for an uncaught exception (a crash must never pass
for a rejected signature):
  0  signature valid (claim JSON on stdout)
  10 signature INVALID (stderr: PYCOSE_SIGNATURE_INVALID)
  11 not a tagged COSE_Sign1, or not an Ed25519 SPKI key (stderr: PYCOSE_MALFORMED_INPUT)
  3  pycose missing
Tested with pycose 1.1.0 + cbor2 6.3.0.
Called by crates/issuer/tests/cose_interop.rs.
"""
import base64
import json
import sys

try:
    import cbor2
    from pycose.keys import OKPKey
    from pycose.keys.curves import Ed25519
    from pycose.messages import Sign1Message
except ImportError as e:
    print(f"missing python module {e.name}: `pip install pycose` "
          "(or `cargo xtask setup`, which installs all test tools)", file=sys.stderr)
    sys.exit(3)

SIGNATURE_INVALID = 10
MALFORMED_INPUT = 11

# DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): SEQ{SEQ{OID 1.3.101.112}, BIT STRING}
SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")


def main():
    label = open(sys.argv[1], "rb").read()
    pem = open(sys.argv[2]).read()
    der = base64.b64decode("".join(l for l in pem.splitlines() if not l.startswith("-----")))
    if len(der) != 44 or not der.startswith(SPKI_ED25519_PREFIX):
        print("PYCOSE_MALFORMED_INPUT: not an Ed25519 SPKI public key", file=sys.stderr)
        sys.exit(MALFORMED_INPUT)
    # Not Sign1Message.decode(): cbor2 >= 6 returns arrays as tuples, which pycose 1.1.0's
    # decode() rejects ("Bytes cannot be decoded as COSE message"). Do its two steps here: check
    # the COSE_Sign1 tag (18), then build the message from the array.
    outer = cbor2.loads(label)
    if not isinstance(outer, cbor2.CBORTag) or outer.tag != 18:
        print("PYCOSE_MALFORMED_INPUT: not a tagged COSE_Sign1", file=sys.stderr)
        sys.exit(MALFORMED_INPUT)
    # (cbor2 6 also hands back the unprotected header as an immutable mapping: make it a dict.)
    obj = [dict(x) if hasattr(x, "keys") else x for x in outer.value]
    msg = Sign1Message.from_cose_obj(obj, True)
    msg.key = OKPKey(crv=Ed25519, x=der[12:])
    if not msg.verify_signature():
        print("PYCOSE_SIGNATURE_INVALID: pycose rejected the signature", file=sys.stderr)
        sys.exit(SIGNATURE_INVALID)
    claim = cbor2.loads(msg.payload)
    # claim format 2 (FORMATS §1): a map with integer keys; byte strings (packed names, the
    # provisions bitset) printed as hex
    out = {str(k): (v.hex() if isinstance(v, bytes) else v) for k, v in claim.items()}
    out["_kid"] = msg.phdr_encoded and cbor2.loads(msg.phdr_encoded).get(4, b"").hex()
    out["_alg"] = cbor2.loads(msg.phdr_encoded).get(1)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
