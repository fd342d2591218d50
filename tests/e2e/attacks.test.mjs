// Attacks on the verifier page in headless Chromium (DESIGN rule 4, issue item 6): a replaying
// proxy between the page and the demo server (old checkpoint, tiles and status proof from before
// a revocation), a split view (another tree under the same log origin and key), a trust-list
// rollback, a trust list signed by another key (the anchor is pinned in the page build, not read
// from config.json), a label signed with the issuer's key but never logged, and a post-dated label.
//
// Every test runs twice: against plain `serve --demo` (today: no witnesses, quorum 0, so nothing
// proves a checkpoint fresh) and against a demo server whose trust list, built and signed in the
// harness, has one real witness process with quorum 1 (`startWitnessedServer`). The assertions
// that depend on the witness policy switch on by the served trust list (so the plain run gets
// them too once `serve --demo` starts witnesses):
// - a fresh page profile fed the replayed pre-revocation data: with witnesses and a clock past
//   `witness_policy.max_age` it must say "cannot check"; without witnesses nothing proves
//   freshness, so it shows Genuine (asserted, so the test notices when that changes);
// - the off-log label: with witnesses it is `not_in_log`; without, `cannot_check`.
// The remembering page's `log_inconsistent` (replay and split view) holds either way.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  startServer, mint, api, fragment, launch, newPage, open, verdictOf, startProxy, checkpointInfo,
  pageMemory, issueDemo, startWitnessedServer, waitCosigned, foreignTrustList, assertPrivate,
} from './harness.mjs';

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

async function getText(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.text();
}

/** Reloads the page and waits for its new verdict. */
async function reverify(page) {
  await page.reload();
  return verdictOf(page);
}

const seenKey = (origin) => `cyberlabel.seen.${origin}`;

/** Values unique to a label that must never appear in a request. */
function secretsOf(view) {
  const bytes = Buffer.from(view.label, 'base64');
  const leaf = createHash('sha256').update(Buffer.concat([Buffer.from([0]), bytes])).digest();
  return [fragment(view.payload_url), view.label, bytes.toString('hex'), leaf.toString('hex'),
    leaf.toString('base64'), `/labels/${view.index}`];
}

/** The trust list's witness policy as the assertions need it. */
async function policyOf(server) {
  const list = await (await fetch(`${server.base}/trust-list.json`, { signal: AbortSignal.timeout(10_000) })).json();
  const wp = list.witness_policy || {};
  const q = wp.quorum;
  const policy = {
    witnessed: (list.witnesses || []).length > 0 && q !== undefined && q !== null && q !== 0 && q !== 'none',
    witnesses: (list.witnesses || []).map((w) => w.name),
    maxAge: Number(wp.max_age) || 3600,
    version: list.version,
  };
  console.log(`NOTE trust list: version ${policy.version}, ${policy.witnesses.length} witnesses, `
    + `quorum ${JSON.stringify(q)}, max_age ${policy.maxAge} s → witness-dependent assertions `
    + `${policy.witnessed ? 'ON' : 'OFF (no witness policy)'}`);
  return policy;
}

for (const variant of [
  { name: 'plain demo server', start: () => startServer() },
  { name: 'demo server with a witness policy (1 witness, quorum 1)', start: () => startWitnessedServer() },
]) describe(variant.name, () => {
  let server;
  let policy;

  before(async () => {
    server = await variant.start();
    policy = await policyOf(server);
  });

  after(async () => {
    if (server) { await server.stop(); server.cleanup(); }
  });

  /** After an append: with witnesses, wait until the served checkpoint is cosigned at a tree
   * size of at least `minSize` (bounded). */
  async function settle(srv, minSize) {
    if (policy.witnessed) await waitCosigned(srv, minSize, policy.witnesses);
  }

  test('replayed pre-revocation log data: the page that saw the revocation warns log_inconsistent', async () => {
    const proxy = await startProxy(server.base);
    try {
      const view = await mint(server, { product: 'SmartCam Replay' });
      await settle(server, view.index + 1);
      const url = `${proxy.base}/v#${fragment(view.payload_url)}`;
      const a = await newPage(browser);
      // 1. verified through the proxy while it records the log data (before the revocation)
      proxy.recording = true;
      const v1 = await open(a.page, url);
      proxy.recording = false;
      assert.equal(v1.report.verdict, 'genuine', JSON.stringify(v1.report));
      const old = proxy.recorded.get('/checkpoint');
      assert.ok(old, 'the proxy recorded the checkpoint');
      const oldCp = checkpointInfo(old.body.toString());
      assert.ok([...proxy.recorded.keys()].some((k) => k.startsWith('/status/')), 'status proof recorded');
      // the page remembers the checkpoint it verified and the trust-list version it accepted
      const mem1 = await pageMemory(a.page);
      const seen1 = JSON.parse(mem1[seenKey(oldCp.origin)]);
      assert.equal(seen1.size, oldCp.size);
      assert.equal(seen1.root, Buffer.from(oldCp.root, 'base64').toString('hex'));
      assert.equal(Number(mem1['cyberlabel.trustListVersion']), policy.version);

      // 2. revoked; the same page sees it (live) and remembers the newer checkpoint
      await api(server, 'POST', `/labels/${view.index}/revoke`, { reason: 'unremediated_vulnerability' });
      await settle(server, oldCp.size + 1); // the status record is a log entry
      const v2 = await reverify(a.page);
      assert.equal(v2.report.verdict, 'revoked', JSON.stringify(v2.report));
      const seen2 = JSON.parse((await pageMemory(a.page))[seenKey(oldCp.origin)]);
      assert.ok(seen2.size > oldCp.size, `remembered ${seen2.size} after the revocation, recorded ${oldCp.size}`);

      // 3. the proxy replays the recorded pre-revocation checkpoint, tiles and status proof
      proxy.mode = 'replay';
      const v3 = await reverify(a.page);
      assert.ok(proxy.replayed.includes('/checkpoint'), `replayed: ${proxy.replayed.join(' ')}`);
      assert.equal(v3.report.verdict, 'log_inconsistent', JSON.stringify(v3.report));
      assert.equal(v3.dom, 'log_inconsistent');
      assert.match(v3.headline, /Warning/);
      assert.match(v3.text, /older or different state than before/);
      assert.match(v3.text, /do not rely on this label now/i);
      // the memory does not move back to the replayed state
      assert.deepEqual(JSON.parse((await pageMemory(a.page))[seenKey(oldCp.origin)]), seen2);
      // consistency tiles included, every request stayed private
      assertPrivate(a.requests, secretsOf(view), proxy.base);
      await a.context.close();

      // 4. a fresh profile (nothing remembered) fed the same replay
      const b = await newPage(browser);
      if (policy.witnessed) {
        // the recorded cosignatures are older than max_age by this page's clock: stale
        await b.page.clock.setFixedTime(Date.now() + (policy.maxAge + 3600) * 1000);
      }
      const v4 = await open(b.page, url);
      assert.equal(v4.state, 'done', `page error: ${v4.error}`);
      if (policy.witnessed) {
        assert.notEqual(v4.report.verdict, 'genuine', JSON.stringify(v4.report));
        assert.equal(v4.report.verdict, 'cannot_check', JSON.stringify(v4.report));
      } else {
        // Without witnesses nothing proves the checkpoint is recent: a first-time verifier cannot
        // tell an old consistent view from the current one. Asserted so this test fails (and is
        // revisited) when the demo gains a witness policy without the branch above being taken.
        assert.equal(v4.report.verdict, 'genuine', JSON.stringify(v4.report));
        console.log('NOTE replay to a fresh profile without a witness policy: shows genuine (no freshness proof)');
      }
      await b.context.close();
    } finally {
      await proxy.stop();
    }
  });

  test('a trust list older than the one the page accepted before is refused', async () => {
    const view = await mint(server, { product: 'SmartCam Trust Rollback' });
    await settle(server, view.index + 1);
    const { context, page } = await newPage(browser);
    const v1 = await open(page, view.payload_url);
    assert.equal(v1.report.verdict, 'genuine', JSON.stringify(v1.report));
    // as if this device had accepted a newer list before (the server still serves policy.version)
    await page.evaluate((v) => localStorage.setItem('cyberlabel.trustListVersion', String(v)), policy.version + 1);
    const v2 = await reverify(page);
    assert.equal(v2.state, 'error');
    assert.notEqual(v2.dom, 'genuine');
    assert.match(v2.text, /older than the one this device accepted before/);
    // and the remembered version is not lowered
    assert.equal((await pageMemory(page))['cyberlabel.trustListVersion'], String(policy.version + 1));
    await context.close();
  });

  test('the anchor is pinned: a trust list signed by another key, named in config.json, is refused', async () => {
    const proxy = await startProxy(server.base);
    try {
      const view = await mint(server, { product: 'SmartCam Anchor' });
      await settle(server, view.index + 1);
      const url = `${proxy.base}/v#${fragment(view.payload_url)}`;
      // a bogus anchor in config.json alone changes nothing: the page does not read it
      const foreign = await foreignTrustList(server);
      const config = (anchor) => ({
        type: 'application/json',
        body: JSON.stringify({ trust_anchor: Buffer.from(anchor).toString('base64') }),
      });
      proxy.override.set('/assets/config.json', config(foreign.publicRaw));
      const a = await newPage(browser);
      const v1 = await open(a.page, url);
      assert.equal(v1.report.verdict, 'genuine', JSON.stringify(v1.report));
      await a.context.close();
      // the server's trust list replaced by one signed with that key (and a higher version)
      proxy.override.set('/trust-list', { type: 'application/cose', body: foreign.cose });
      const b = await newPage(browser);
      const v2 = await open(b.page, url);
      assert.equal(v2.state, 'error', JSON.stringify(v2.report));
      assert.notEqual(v2.dom, 'genuine');
      assert.match(v2.text, /could not start: trust list/);
      // nothing from the foreign list was remembered
      assert.equal((await pageMemory(b.page))['cyberlabel.trustListVersion'], undefined);
      await b.context.close();
    } finally {
      await proxy.stop();
    }
  });

  test('a label signed with the demo issuer key but never logged is never Genuine', async () => {
    // issued ten days ago, so by the log's merge delay it would have to be in the tree by now
    const issuedAt = new Date(Date.now() - 10 * 86_400_000).toISOString().slice(0, 10);
    const label = issueDemo(`${server.base}/v`, 1_000_000, issuedAt);
    const { context, page } = await newPage(browser);
    const v = await open(page, label.url);
    assert.equal(v.state, 'done', `page error: ${v.error}`);
    assert.equal(v.report.offline_verdict, 'genuine', JSON.stringify(v.report)); // validly signed
    assert.notEqual(v.report.verdict, 'genuine', JSON.stringify(v.report));
    if (policy.witnessed) {
      assert.equal(v.report.verdict, 'not_in_log', JSON.stringify(v.report));
      assert.equal(v.headline, 'Not genuine');
      assert.match(v.text, /not in the public log of issued labels/);
      // one verdict, no contradicting note that the log could not be checked
      assert.doesNotMatch(v.text, /could not be done/);
    } else {
      // no witnesses: nothing proves the checkpoint is recent, so "not yet in the log" is all
      // that can be said
      assert.equal(v.report.verdict, 'cannot_check', JSON.stringify(v.report));
    }
    await context.close();
  });

  test('a post-dated label (validly signed, issue day not begun anywhere) shows Not valid yet', async () => {
    const future = new Date(Date.now() + 10 * 86_400_000).toISOString().slice(0, 10);
    const label = issueDemo(`${server.base}/v`, 0, future);
    const { context, page } = await newPage(browser);
    const v = await open(page, label.url);
    assert.equal(v.report.verdict, 'not_yet_valid', JSON.stringify(v.report));
    assert.equal(v.headline, 'Not valid yet');
    assert.match(v.text, /date that has not come yet/);
    assert.equal(v.report.label, undefined); // what it claims is not shown
    await context.close();
  });

  // Last: it starts a second demo server.
  test('split view: another tree under the same log origin and key gives log_inconsistent', async () => {
    const proxy = await startProxy(server.base);
    let other = null;
    try {
      const view = await mint(server, { product: 'SmartCam Split' });
      await settle(server, view.index + 1);
      const url = `${proxy.base}/v#${fragment(view.payload_url)}`;
      const c = await newPage(browser);
      const v1 = await open(c.page, url);
      assert.equal(v1.report.verdict, 'genuine', JSON.stringify(v1.report));
      const cp1 = checkpointInfo(await getText(`${server.base}/checkpoint`));
      const seen = JSON.parse((await pageMemory(c.page))[seenKey(cp1.origin)]);

      // a fresh data dir, the same example log key and origin: a different tree
      other = await variant.start();
      let cp2 = checkpointInfo(await getText(`${other.base}/checkpoint`));
      assert.equal(cp2.origin, cp1.origin);
      // grow it to the remembered size: same origin, same key, same size, another root
      for (let i = 0; i < 500 && cp2.size < seen.size; i++) {
        await mint(other, { product: `SmartCam Other ${i}` });
        cp2 = checkpointInfo(await getText(`${other.base}/checkpoint`));
      }
      assert.equal(cp2.size, seen.size, 'the other tree reached the remembered size');
      await settle(other, seen.size);
      assert.notEqual(Buffer.from(cp2.root, 'base64').toString('hex'), seen.root);

      proxy.target = other.base;
      const v2 = await reverify(c.page);
      assert.equal(v2.report.verdict, 'log_inconsistent', JSON.stringify(v2.report));
      assert.match(v2.text, /older or different state than before/);
      assert.deepEqual(JSON.parse((await pageMemory(c.page))[seenKey(cp1.origin)]), seen);
      await c.context.close();

      // a fresh profile that only ever sees the other tree: its entry at the label's index is
      // another label, proven by tiles under the signed root
      const d = await newPage(browser);
      const v3 = await open(d.page, url);
      assert.notEqual(v3.report.verdict, 'genuine', JSON.stringify(v3.report));
      assert.equal(v3.report.verdict, 'not_in_log', JSON.stringify(v3.report));
      await d.context.close();
    } finally {
      await proxy.stop();
      if (other) { await other.stop(); other.cleanup(); }
    }
  });
});
