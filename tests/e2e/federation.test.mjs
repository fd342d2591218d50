// Federation: two independent deployments — each its own issuer key, log key, trust-list signer
// and witness — run as two real server processes. Deployment A (Singapore, the page under test)
// names B's issuer, B's log (at B's URL) and B's witness in its signed trust list, built with
// the real `cyberlabel trust-list` commands. A label minted on B verifies in A's page and in the
// CLI under A's trust against B's log (inclusion, status, B's witness quorum), shows the
// equivalent A level per the SG-DE row for its category, and shows Revoked once B revokes it.
// The page reaches B only at the URL A's signed list names, and asks it only for the checkpoint,
// tiles and a status bucket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  ROOT, BIN, tmp, freePort, startServer, startWitness, waitCosigned, api, product, fragment,
  launch, newPage, open, assertPrivate,
} from './harness.mjs';

const B_ORIGIN = 'partner-b.test/log';
const B_WITNESS = 'witness.partner-b.test/w1';
const EXAMPLE_TL_PUB = join(ROOT, 'keys-example/trust-list-EXAMPLE-DO-NOT-USE.pub.pem');

let dir, a, b, bWitness, browser;

const cli = (...args) => execFileSync(BIN, args, { cwd: ROOT, stdio: 'pipe' }).toString();

/** A DE-BSI product (self-declared, level 1) as B's issuing body mints it. */
function bProduct(overrides = {}) {
  return product({ scheme: 'DE-BSI', level: 1, assessment: 'self_declared', lab: undefined,
    manufacturer: 'Beispiel Geräte GmbH', ...overrides });
}

before(async () => {
  dir = tmp('federation');
  // --- deployment B: its own keys, log, trust list and witness -------------------------------
  const bKeys = join(dir, 'b');
  cli('keygen', '--out', bKeys, '--name', 'issuer');
  cli('keygen', '--out', bKeys, '--name', 'log', '--note-name', B_ORIGIN);
  cli('keygen', '--out', bKeys, '--name', 'tl');
  const bLogVkey = readFileSync(join(bKeys, 'log.vkey'), 'utf8').trim();
  bWitness = await startWitness(bLogVkey, B_WITNESS);
  const bPort = await freePort();
  const bUrl = `http://127.0.0.1:${bPort}`;
  const bList = join(bKeys, 'tl.json');
  cli('trust-list', 'create', '--json', bList);
  cli('trust-list', 'add-log', '--json', bList, '--vkey', bLogVkey, '--url', bUrl);
  // SG-CLS too, for the demo's sample labels on a new log
  cli('trust-list', 'add-issuer', '--json', bList, '--name', 'BSI test issuing body',
    '--public-key', join(bKeys, 'issuer.pub.pem'), '--scheme', 'DE-BSI', '--scheme', 'SG-CLS');
  cli('trust-list', 'add-witness', '--json', bList, '--vkey', bWitness.vkey);
  cli('trust-list', 'witness-policy', '--json', bList, '--quorum', B_WITNESS);
  cli('trust-list', 'sign', '--json', bList, '--key', join(bKeys, 'tl.key.pem'), '--out', join(bKeys, 'tl.cose'));
  b = await startServer(['--origin', B_ORIGIN, '--issuer-key', join(bKeys, 'issuer.key.pem'),
    '--log-key', join(bKeys, 'log.key.pem'), '--trust-list', join(bKeys, 'tl.cose'),
    '--trust-anchor', join(bKeys, 'tl.pub.pem'), '--witness', `${bWitness.vkey}@${bWitness.url}`],
  { port: bPort });

  // --- deployment A: the example keys (the page build pins the example trust-list key), its
  // own log first, then B's log, issuer, witness and that log's policy, added with the CLI ----
  const example = JSON.parse(readFileSync(join(ROOT, 'keys-example/trust-list.EXAMPLE.json'), 'utf8'));
  const aLogVkey = readFileSync(join(ROOT, 'keys-example/log-EXAMPLE-DO-NOT-USE.vkey'), 'utf8').trim();
  const aOrigin = aLogVkey.split('+')[0];
  const now = Math.floor(Date.now() / 1000);
  const aList = join(dir, 'a-tl.json');
  writeFileSync(aList, JSON.stringify({
    ...example, version: 1, issued_at: now - 86_400, expires_at: now + 365 * 86_400,
    logs: [{ origin: aOrigin, vkey: aLogVkey, url: '', max_merge_delay: 0 }],
  }, null, 1));
  cli('trust-list', 'add-log', '--json', aList, '--vkey', bLogVkey, '--url', bUrl);
  cli('trust-list', 'add-issuer', '--json', aList, '--name', 'BSI test issuing body',
    '--public-key', join(bKeys, 'issuer.pub.pem'), '--scheme', 'DE-BSI', '--log', B_ORIGIN);
  cli('trust-list', 'add-witness', '--json', aList, '--vkey', bWitness.vkey);
  cli('trust-list', 'witness-policy', '--json', aList, '--quorum', B_WITNESS, '--log', B_ORIGIN);
  const aKey = join(dir, 'a-tl.key.pem');
  writeFileSync(aKey, readFileSync(join(ROOT, 'keys-example/trust-list-EXAMPLE-DO-NOT-USE.key.pem')), { mode: 0o600 });
  cli('trust-list', 'sign', '--json', aList, '--key', aKey, '--out', join(dir, 'a-tl.cose'));
  a = await startServer(['--origin', aOrigin, '--trust-list', join(dir, 'a-tl.cose'),
    '--trust-anchor', EXAMPLE_TL_PUB]);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  for (const s of [a, b]) { await s?.stop(); s?.cleanup(); }
  await bWitness?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function secretsOf(view) {
  const bytes = Buffer.from(view.label, 'base64');
  const leaf = createHash('sha256').update(Buffer.concat([Buffer.from([0]), bytes])).digest();
  return [fragment(view.payload_url), view.label, bytes.toString('hex'), leaf.toString('hex'),
    leaf.toString('base64'), `/labels/${view.index}`];
}

/** Opens B's label in A's page; returns the verdict and the requests, checked for privacy. */
async function inAsPage(view) {
  const { context, page, requests } = await newPage(browser);
  try {
    const v = await open(page, `${a.base}/v#${fragment(view.payload_url)}`);
    const toA = requests.filter((u) => u.startsWith(a.base));
    const toB = requests.filter((u) => u.startsWith(b.base));
    assert.equal(toA.length + toB.length, requests.length, `requests elsewhere: ${requests.join('\n')}`);
    assertPrivate(toA, secretsOf(view), a.base);
    assertPrivate(toB, secretsOf(view), b.base);
    // from B only the log's read side: never the page, a label view or the trust list
    for (const u of toB) assert.match(new URL(u).pathname, /^\/(checkpoint|tile\/|status\/)/, u);
    return { v, toB };
  } finally {
    await context.close();
  }
}

test('a label minted on B is genuine in A\'s page against B\'s log, with the equivalent A level; B revokes it, A shows Revoked', async () => {
  const view = await api(b, 'POST', '/labels', bProduct({ product: 'Kamera Außen 2', category: 1 }));
  await waitCosigned(b, view.index + 1, [B_WITNESS]);

  const { v, toB } = await inAsPage(view);
  assert.equal(v.report.verdict, 'genuine', JSON.stringify(v.report));
  assert.equal(v.report.log.origin, B_ORIGIN);
  assert.equal(v.report.online.log.origin, B_ORIGIN);
  assert.ok(v.report.online.log.witnesses >= 1, JSON.stringify(v.report.online));
  assert.ok(toB.some((u) => u.endsWith('/checkpoint')), toB.join('\n'));
  assert.deepEqual(v.report.equivalents.map((e) => [e.to_scheme, e.to_level]), [['SG-CLS', 2]]);
  assert.match(v.text, /Singapore/);

  // the CLI under A's trust (its signed list, fetched from A) checks B's log the same way
  const state = join(dir, 'cli-seen.json');
  const out = JSON.parse(cli('verify', view.payload_url, '--trust-list-url', `${a.base}/trust-list`,
    '--trust-list-signer', EXAMPLE_TL_PUB, '--state', state, '--json'));
  assert.equal(out.verdict, 'genuine', JSON.stringify(out));
  assert.equal(out.online.log.origin, B_ORIGIN);
  assert.equal(out.equivalents[0].to_scheme, 'SG-CLS');

  await api(b, 'POST', `/labels/${view.index}/revoke`, { reason: 6 });
  await waitCosigned(b, view.index + 2, [B_WITNESS]);
  const after = await inAsPage(view);
  assert.equal(after.v.report.verdict, 'revoked', JSON.stringify(after.v.report));
  assert.equal(after.v.headline, 'Revoked');
});

test('B\'s label for a category the SG-DE row excludes is genuine with no equivalent level', async () => {
  const view = await api(b, 'POST', '/labels', bProduct({ product: 'Smart Lock 7', category: 11 }));
  await waitCosigned(b, view.index + 1, [B_WITNESS]);
  const { v } = await inAsPage(view);
  assert.equal(v.report.verdict, 'genuine', JSON.stringify(v.report));
  assert.deepEqual(v.report.equivalents, []);
});
