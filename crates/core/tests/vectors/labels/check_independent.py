#!/usr/bin/env python3
"""Independent check of the golden label with cbor2 + cryptography (no cyberlabel code).

Rebuilds the COSE Sig_structure ["Signature1", protected, h'', payload] with cbor2, verifies the
Ed25519 signature with `cryptography`, and checks the claim is canonical CBOR. Exit 0 = OK.
(pycose 1.1.0 cannot decode any COSE message with cbor2 >= 6 installed, which decodes arrays as
tuples and maps as frozendicts; hence the direct check.)
Usage: python3 check_independent.py [typical-label.json]
"""
import json
import pathlib
import sys

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("typical-label.json"))
v = json.loads(path.read_text())
tag = cbor2.loads(bytes.fromhex(v["label_hex"]))
assert tag.tag == 18, "not tagged COSE_Sign1"
protected, unprotected, payload, signature = tag.value
assert cbor2.loads(protected) == {1: -8, 4: bytes.fromhex(v["kid_hex"])}, "protected header"
assert dict(unprotected) == {}, "unprotected header must be empty"
tbs = cbor2.dumps(["Signature1", protected, b"", payload])
Ed25519PublicKey.from_public_bytes(bytes.fromhex(v["public_key_hex"])).verify(signature, tbs)
claim = cbor2.loads(payload)
assert cbor2.dumps(dict(claim), canonical=True) == payload, "claim is not canonical CBOR"
assert payload.hex() == v["claim_cbor_hex"]
print("OK: signature verifies and the claim is canonical")
