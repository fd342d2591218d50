// The core's test vectors, run against the wasm build under node: the same files as the native
// tests (crates/core/tests/vectors/), through the same exported API the browser page uses.
// Run by `cargo xtask test` (which builds target/wasm-node first); CYBERLABEL_WASM_NODE points
// at the nodejs wasm-bindgen output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const pkgDir = process.env.CYBERLABEL_WASM_NODE || join(root, 'target/wasm-node');
const require = createRequire(import.meta.url);
const wasm = require(join(pkgDir, 'cyberlabel_wasm.js'));
const vectors = join(root, 'crates/core/tests/vectors');

const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const cat = (list) => Uint8Array.from(Buffer.concat(list.map((h) => Buffer.from(h, 'hex'))));
const b2h = (u8) => Buffer.from(u8).toString('hex');

test('RFC 6962 vectors: leaf hashes, inclusion and consistency proofs (rfc6962_merkle.json)', () => {
  const v = JSON.parse(readFileSync(join(vectors, 'rfc6962_merkle.json'), 'utf8'));
  const leaves = v.leaves_hex.map((h) => wasm.merkleLeafHash(hex(h)));
  assert.equal(leaves.length, 8);
  let checked = 0;
  for (const p of v.inclusion) {
    const root = hex(v.roots_hex[p.size]);
    wasm.merkleVerifyInclusion(leaves[p.index], p.index, p.size, cat(p.proof_hex), root);
    checked++;
    // the same proof must fail for another leaf, and with a trailing extra hash
    const other = leaves[(p.index + 1) % 8];
    if (b2h(other) !== b2h(leaves[p.index])) {
      assert.throws(() => wasm.merkleVerifyInclusion(other, p.index, p.size, cat(p.proof_hex), root));
    }
    assert.throws(() => wasm.merkleVerifyInclusion(leaves[p.index], p.index, p.size,
      cat([...p.proof_hex, v.roots_hex[1]]), root));
  }
  for (const c of v.consistency) {
    const oldRoot = hex(v.roots_hex[c.old]);
    const newRoot = hex(v.roots_hex[c.new]);
    wasm.merkleVerifyConsistency(c.old, c.new, oldRoot, newRoot, cat(c.proof_hex));
    checked++;
    if (c.proof_hex.length > 0) {
      assert.throws(() => wasm.merkleVerifyConsistency(c.old, c.new, oldRoot, newRoot,
        cat(c.proof_hex.slice(0, -1))));
    }
  }
  assert.ok(checked >= v.inclusion.length + v.consistency.length);
  // single-leaf trees: the root of size 1 is the leaf hash of leaf 0
  assert.equal(b2h(leaves[0]), v.roots_hex[1]);
});

test('signed-note vectors verify and tampered copies do not (vectors/notes)', () => {
  const dir = join(vectors, 'notes');
  const read = (n) => readFileSync(join(dir, n), 'utf8');
  const c2sp = JSON.parse(wasm.noteOpen(read('c2sp-signed-note-example.note'), read('c2sp-signed-note-example.vkey')));
  assert.equal(c2sp.text, 'This is an example message.\n');
  assert.equal(c2sp.verified[0].key_id, 0x530d903a);
  assert.throws(() => wasm.noteOpen(read('c2sp-signed-note-example.note').replace('example message', 'example massage'),
    read('c2sp-signed-note-example.vkey')));
  const go = JSON.parse(wasm.noteOpen(read('go-sumdb-note-example.note'), read('go-sumdb-note-example.vkey')));
  assert.equal(go.verified[0].key_id, 0xc74f20a3);
  const two = JSON.parse(wasm.noteOpen(read('go-sumdb-note-example-two-sigs.note'),
    read('go-sumdb-note-example.vkey') + '\n' + read('go-sumdb-note-example-enoch.vkey')));
  assert.equal(two.verified.length, 2);
});

// Label vectors (H1's crates/core/tests/vectors/labels/*), when present: each case names the
// payload and the expected offline verdict.
const labelDir = join(vectors, 'labels');
test('label vectors: payload decoding and offline verdicts (vectors/labels)', { skip: !existsSync(labelDir) && 'no label vectors committed' }, () => {
  const files = readdirSync(labelDir).filter((f) => f.endsWith('.json'));
  assert.ok(files.length > 0);
  for (const f of files) {
    const c = JSON.parse(readFileSync(join(labelDir, f), 'utf8'));
    if (c.payload === undefined) continue;
    if (c.label_hex !== undefined) {
      assert.equal(b2h(wasm.decodePayload(c.payload)), c.label_hex, f);
    }
  }
});
