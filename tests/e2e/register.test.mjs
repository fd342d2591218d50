// The public register's page against the live server (issue 11): search by manufacturer, the
// results' status and history, the manufacturer page, and the Verify link into the verifier.
// The static copy's register is checked in static.test.mjs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, mint, api, launch, newPage, verdictOf } from './harness.mjs';

let server;
let browser;
let hub1;
let hub2;

before(async () => {
  server = await startServer();
  hub1 = await mint(server, { manufacturer: 'Registerco Labs', product: 'Hub One' });
  hub2 = await mint(server, { manufacturer: 'Registerco Labs', product: 'Hub Two' });
  await api(server, 'POST', `/labels/${hub2.index}/suspend`, { reason: 12 });
  await api(server, 'POST', `/labels/${hub2.index}/revoke`, { reason: 6 });
  await mint(server, { manufacturer: 'Other Maker', product: 'Hub One' });
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) { await server.stop(); server.cleanup(); }
});

async function listings(page) {
  return page.$$eval('#results > li', (lis) => lis.map((li) => ({
    index: Number(li.dataset.index),
    text: li.innerText,
    verify: li.querySelector('a')?.getAttribute('href') || null,
  })));
}

test('the register page finds a manufacturer\'s labels with their status and history', async () => {
  const { context, page, consoleErrors } = await newPage(browser);
  await page.goto(`${server.base}/register`);
  await page.waitForFunction(() => document.body.dataset.loaded === 'yes');
  assert.equal(await page.evaluate(() => document.body.dataset.ready), 'api');
  await page.fill('#f-manufacturer', 'registerco');
  await page.click('#go');
  await page.waitForFunction(() => document.querySelectorAll('#results > li').length >= 2
    && /shown/.test(document.getElementById('summary').textContent));
  const found = await listings(page);
  assert.deepEqual(found.map((l) => l.index).sort((x, y) => x - y), [hub1.index, hub2.index]);
  const two = found.find((l) => l.index === hub2.index);
  assert.match(two.text, /revoked/);
  assert.match(two.text, /Suspended \(entry \d+\) — investigation pending/);
  assert.match(two.text, /Revoked \(entry \d+\) — nonconformity found/);
  const one = found.find((l) => l.index === hub1.index);
  assert.match(one.text, /active/);

  // words and status together
  await page.fill('#f-manufacturer', '');
  await page.fill('#f-q', 'registerco hub');
  await page.selectOption('#f-status', 'revoked');
  await page.click('#go');
  await page.waitForFunction(() => /shown/.test(document.getElementById('summary').textContent));
  assert.deepEqual((await listings(page)).map((l) => l.index), [hub2.index]);

  // the Verify link opens the verifier on the label's own QR payload
  assert.equal(two.verify, `/v#${hub2.payload_url.split('#')[1]}`);
  await page.goto(`${server.base}${two.verify}`);
  const v = await verdictOf(page);
  assert.equal(v.dom, 'revoked', v.text);

  // the manufacturer's page lists both, with the history
  await page.goto(`${server.base}/register?m=registerco-labs`);
  await page.waitForFunction(() => document.body.dataset.loaded === 'yes');
  const all = await listings(page);
  assert.deepEqual(all.map((l) => l.index), [hub2.index, hub1.index]);
  assert.match(await page.textContent('#results-title'), /Registerco Labs: 2 labels/);
  assert.deepEqual(consoleErrors, []);
  await context.close();
});
