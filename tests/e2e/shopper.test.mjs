// The verdict page as a shopper reads it (issue 12, item 3): dates as the label's own whole days
// in every time zone, the level with its scale, the scheme in full words, partner schemes in plain
// words, one sentence per verdict, a DEMO marker, accessibility (axe-core), a 320 px wide screen
// and a second language. Real server (`cyberlabel serve --demo`), real headless Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import {
  startServer, mint, api, encodeDigits, forgeName, launch, newPage, open, verdictOf, saveOut, tmp, OUT, PYTHON, BIN, ROOT,
} from './harness.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (server) { await server.stop(); server.cleanup(); }
});

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];
const MONATE = ['Januar', 'Februar', 'März', 'April', 'Mai', 'Juni', 'Juli', 'August',
  'September', 'Oktober', 'November', 'Dezember'];

/** The UTC day of a Unix time, `YYYY-MM-DD` (restated here, not taken from the page). */
const utcDay = (secs) => new Date(secs * 1000).toISOString().slice(0, 10);
/** `YYYY-MM-DD` as the page writes it in English ("December 31, 2030") and German. */
const english = (day) => { const [y, m, d] = day.split('-').map(Number); return `${MONTHS[m - 1]} ${d}, ${y}`; };
const german = (day) => { const [y, m, d] = day.split('-').map(Number); return `${d}. ${MONATE[m - 1]} ${y}`; };

/** The facts list (dt → dd) and the verdict box as the page shows them. */
async function shown(page) {
  return page.evaluate(() => {
    const facts = {};
    const dts = document.querySelectorAll('#facts dt');
    for (const dt of dts) facts[dt.textContent] = dt.nextElementSibling.textContent;
    const box = document.getElementById('verdict');
    const visible = (id) => !document.getElementById(id).hidden;
    return {
      facts,
      headline: document.getElementById('headline').textContent,
      summary: document.getElementById('summary').textContent,
      advice: visible('advice') ? document.getElementById('advice').textContent : '',
      note: visible('online-note') ? document.getElementById('online-note').textContent : '',
      box: box.innerText,
      classes: box.className,
      demo: visible('demo-badge') ? document.getElementById('demo-badge').textContent : '',
      background: getComputedStyle(box).backgroundColor,
      equivalents: [...document.querySelectorAll('#equivalents li')].map((li) => li.textContent),
      lang: document.documentElement.lang,
    };
  });
}

/** A label whose days are the hard cases: support ends 2030-12-31 23:59:59 UTC (the next day in
 * Asia/Singapore and Kiritimati), issued at 00:00 UTC today (the day before in Los Angeles),
 * expires-on 2029-11-26 (valid through 2029-11-25). */
async function datedLabel(productName) {
  const view = await mint(server, { product: productName, support_until: '2030-12-31', expires_at: '2029-11-26' });
  const claim = (await api(server, 'GET', `/labels/${view.index}`)).claim;
  return { view, claim };
}

test('dates read as the label\'s own days in Kiritimati, Singapore and Los Angeles, as in the API and the CLI', async () => {
  const { view, claim } = await datedLabel('SmartCam Dates');
  // The API's day strings are the claim's UTC days (FORMATS.md §1).
  assert.equal(claim.support_until, '2030-12-31');
  assert.equal(claim.valid_through, '2029-11-25');
  assert.equal(claim.support_until, utcDay(claim.support_end));
  assert.equal(claim.valid_through, utcDay(claim.expires_at - 1));
  assert.equal(claim.issued_on, utcDay(claim.issued_at));
  // The CLI (offline verify with the built-in EXAMPLE trust list) prints the same days, whatever
  // the machine's time zone.
  for (const tz of ['Pacific/Kiritimati', 'America/Los_Angeles']) {
    let out;
    try {
      out = execFileSync(BIN, ['verify', '--demo', view.payload_url], { cwd: ROOT, env: { ...process.env, TZ: tz }, encoding: 'utf8' });
    } catch (e) { out = String(e.stdout || ''); } // a non-zero exit (no log check offline) still prints the claim
    assert.match(out, /security updates until:\s+2030-12-31/, out);
    assert.match(out, new RegExp(`valid:\\s+${claim.issued_on} through 2029-11-25`), out);
  }
  for (const timezoneId of ['Pacific/Kiritimati', 'Asia/Singapore', 'America/Los_Angeles', 'UTC']) {
    const { context, page } = await newPage(browser, { timezoneId, locale: 'en-US' });
    const v = await open(page, view.payload_url);
    assert.equal(v.report.verdict, 'genuine', JSON.stringify(v.report));
    // the browser really runs in that zone
    const offset = await page.evaluate(() => new Date(Date.UTC(2030, 11, 31, 23, 59, 59)).getDate());
    if (timezoneId !== 'UTC' && timezoneId !== 'America/Los_Angeles') assert.equal(offset, 1, timezoneId);
    const s = await shown(page);
    assert.equal(s.facts['Security updates until'], 'December 31, 2030', timezoneId);
    assert.equal(s.facts['Label valid through'], 'November 25, 2029', timezoneId);
    assert.equal(s.facts.Issued, english(claim.issued_on), timezoneId);
    await context.close();
  }
});

test('the level has its scale, the scheme its full name, owner and country; partners in plain words', async () => {
  const view = await mint(server, { product: 'SmartCam Words' });
  const { context, page } = await newPage(browser, { locale: 'en-US' });
  const v = await open(page, view.payload_url);
  assert.equal(v.report.verdict, 'genuine', JSON.stringify(v.report));
  const s = await shown(page);
  assert.equal(s.facts.Level, 'Level 2 of 4: Meets all the mandatory requirements of the international baseline standard for consumer IoT security.');
  assert.equal(s.facts.Scheme, 'Cybersecurity Labelling Scheme for consumer IoT (CLS(IoT))');
  assert.equal(s.facts['Run by'], 'Cyber Security Agency of Singapore (CSA)');
  assert.equal(s.facts.Country, 'Singapore');
  assert.ok(s.equivalents.includes('Recognised in Germany as: IT security label (BSI)'), s.equivalents.join(' | '));
  for (const e of s.equivalents) assert.doesNotMatch(e, /\[|MRA|MoC|MoU/, e);
  // one sentence, the online check noted once, and the DEMO marker on a demo server's label
  assert.equal(s.headline, 'Genuine');
  assert.equal(s.summary.split(/(?<=[.!?])\s/).length, 1, s.summary);
  assert.equal(s.note, 'Checked against the public log and the issuer\'s revocation list just now.');
  assert.equal(s.demo, 'DEMO — example keys, not a real label');
  assert.match(s.classes, /\bdemo\b/);
  assert.equal(s.background, 'rgb(241, 241, 241)'); // grey, not the green of a real genuine label
  await context.close();
});

test('a binary scheme shows Pass', async () => {
  const view = await mint(server, { product: 'SmartPlug US', scheme: 'US-CTM', level: 1, provisions: [] })
    .catch((e) => ({ error: e }));
  if (view.error) {
    // the demo issuer may not be accredited for US-CTM: say so rather than pass silently
    assert.match(String(view.error), /HTTP 4\d\d/);
    console.log(`SKIP binary scheme: the demo server refuses US-CTM labels (${view.error.message.slice(0, 120)})`);
    return;
  }
  const { context, page } = await newPage(browser, { locale: 'en-US' });
  const v = await open(page, view.payload_url);
  assert.equal(v.report.verdict, 'genuine', JSON.stringify(v.report));
  const s = await shown(page);
  assert.equal(s.facts.Level, 'Pass: Tested by an accredited lab against the U.S. government\'s baseline security criteria for smart devices.');
  assert.equal(s.facts.Country, 'United States');
  assert.equal(s.facts['Run by'], 'Federal Communications Commission (FCC)');
  await context.close();
});

test('verdict pages say one thing each: revoked, superseded, not genuine, not a label', async () => {
  const { context, page } = await newPage(browser, { locale: 'en-US' });
  // revoked, with the issuer's reason once
  const r = await mint(server, { product: 'SmartCam Revoked' });
  await api(server, 'POST', `/labels/${r.index}/revoke`, { reason: 6 });
  let v = await open(page, r.payload_url);
  assert.equal(v.report.verdict, 'revoked');
  let s = await shown(page);
  assert.equal(s.summary, 'The issuing body has withdrawn this label.');
  assert.equal(s.note, 'Reason given: A check found that the product does not meet the requirements.');
  assert.equal(s.demo, 'DEMO — example keys, not a real label');
  // superseded by a renewal: the sentence appears once
  const old = await mint(server, { product: 'SmartCam Renewed' });
  await api(server, 'POST', `/labels/${old.index}/renew`, { firmware_versions: '2.5.x' });
  v = await open(page, old.payload_url);
  assert.equal(v.report.verdict, 'superseded', JSON.stringify(v.report));
  s = await shown(page);
  assert.equal(s.headline, 'Replaced by a newer label');
  assert.equal(s.box.split('A newer label replaces this one').length, 2, s.box);
  // a tampered label: not genuine, and nothing saying the checks could not be done
  const t = await mint(server, { product: 'SmartLock Basic' });
  const bytes = Buffer.from(t.label, 'base64');
  const forged = forgeName(bytes, 'SmartLock Basic', 'SmartLock Pasic');
  v = await open(page, `${server.base}/v#${encodeDigits(forged)}`);
  assert.equal(v.report.verdict, 'tampered');
  s = await shown(page);
  assert.equal(s.headline, 'Not genuine');
  assert.doesNotMatch(s.box, /could not be done|Checked against/);
  assert.equal(s.demo, ''); // nothing validly signed, nothing to mark
  assert.doesNotMatch(s.classes, /demo/);
  // not a label at all
  v = await open(page, `${server.base}/v#hello`);
  assert.equal(v.report.verdict, 'malformed');
  s = await shown(page);
  assert.equal(s.headline, 'Not a label');
  assert.equal(s.summary, 'This code is not a valid cybersecurity label.');
  await context.close();
});

/** axe-core in the page (evaluated through the devtools protocol, so the page's CSP is kept). */
async function axe(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  saveOut(`axe-${name}.json`, result.violations);
  assert.ok(result.passes.length > 10, `axe ran ${result.passes.length} passing rules`); // it really ran
  const bad = result.violations.filter((x) => x.impact === 'serious' || x.impact === 'critical');
  assert.deepEqual(bad.map((x) => `${x.id} (${x.impact}): ${x.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], name);
  return result;
}

test('axe-core finds no serious or critical violation on the genuine, revoked and not-genuine pages', async () => {
  const { context, page } = await newPage(browser, { locale: 'en-US' });
  const g = await mint(server, { product: 'SmartCam Axe' });
  let v = await open(page, g.payload_url);
  assert.equal(v.report.verdict, 'genuine');
  await axe(page, 'genuine');
  // landmarks, the live region and the language switch's label
  assert.equal(await page.locator('main').count(), 1);
  assert.equal(await page.locator('header').count(), 1);
  assert.equal(await page.locator('#verdict[aria-live="polite"]').count(), 1);
  assert.equal(await page.getByLabel('Language').count(), 1);

  const r = await mint(server, { product: 'SmartCam Axe Revoked' });
  await api(server, 'POST', `/labels/${r.index}/revoke`, { reason: 6 });
  v = await open(page, r.payload_url);
  assert.equal(v.report.verdict, 'revoked');
  await axe(page, 'revoked');

  const bytes = Buffer.from(g.label, 'base64');
  const forged = forgeName(bytes, 'SmartCam Axe', 'ZmartCam Axe');
  v = await open(page, `${server.base}/v#${encodeDigits(forged)}`);
  assert.equal(v.report.verdict, 'tampered');
  await axe(page, 'not-genuine');
  await context.close();
});

test('at 320 px wide: no horizontal scroll, the verdict in view (screenshot saved)', async () => {
  const view = await mint(server, { product: 'SmartCam Narrow Screen With A Rather Long Product Name' });
  const revoked = await mint(server, { product: 'SmartCam Narrow Revoked' });
  await api(server, 'POST', `/labels/${revoked.index}/revoke`, { reason: 8 });
  const cases = [['genuine', 'en-US', view.payload_url], ['revoked', 'en-US', revoked.payload_url],
    ['genuine', 'de-DE', view.payload_url]]; // German has the longer words
  for (const [name, locale, url] of cases) {
    const { context, page } = await newPage(browser, { viewport: { width: 320, height: 640 }, locale });
    const v = await open(page, url);
    assert.equal(v.report.verdict, name);
    mkdirSync(OUT, { recursive: true });
    await page.screenshot({ path: join(OUT, `verdict-320-${name}-${locale}.png`), fullPage: true });
    const m = await page.evaluate(() => {
      const b = document.getElementById('verdict').getBoundingClientRect();
      return {
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        box: { left: b.left, right: b.right, top: b.top, bottom: b.bottom },
        innerHeight: window.innerHeight,
        // what sticks out, to name it in a failure
        wide: [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 320.5)
          .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`).slice(0, 8),
      };
    });
    assert.equal(m.clientWidth, 320);
    assert.ok(m.scrollWidth <= m.clientWidth, `horizontal scroll (${locale}): ${m.scrollWidth} > ${m.clientWidth}: ${m.wide.join(', ')}`);
    assert.ok(m.box.left >= 0 && m.box.right <= 320, JSON.stringify(m.box));
    assert.ok(m.box.top >= 0 && m.box.top < m.innerHeight, `verdict not in view: ${JSON.stringify(m)}`);
    assert.ok(await page.locator('#headline').isVisible());
    await context.close();
  }
});

test('in German (navigator.language de-DE) verdict and catalog words are translated; the switch goes back', async () => {
  const { view, claim } = await datedLabel('SmartCam Deutsch');
  const { context, page } = await newPage(browser, { locale: 'de-DE', timezoneId: 'America/Los_Angeles' });
  const v = await open(page, view.payload_url);
  assert.equal(v.report.verdict, 'genuine');
  let s = await shown(page);
  assert.equal(s.lang, 'de');
  assert.equal(s.headline, 'Echt');
  assert.match(s.summary, /^Dieses Kennzeichen ist echt/);
  assert.equal(s.facts.Stufe, 'Stufe 2 von 4: Erfüllt alle verpflichtenden Anforderungen der internationalen Basisnorm für die Sicherheit von Verbraucher-IoT.');
  assert.equal(s.facts.Kategorie, 'Smarte Kamera');
  assert.equal(s.facts.Land, 'Singapur');
  assert.equal(s.facts.Programm, 'Cybersicherheits-Kennzeichnungsprogramm für Verbraucher-IoT (CLS(IoT))');
  assert.equal(s.facts['Sicherheitsupdates bis'], '31. Dezember 2030');
  assert.equal(s.facts['Kennzeichen gültig bis einschließlich'], '25. November 2029');
  assert.equal(s.facts['Ausgegeben am'], german(claim.issued_on));
  assert.ok(s.equivalents.includes('Anerkannt in Deutschland als: IT-Sicherheitskennzeichen (BSI)'), s.equivalents.join(' | '));
  assert.equal(s.demo, 'DEMO — Beispielschlüssel, kein echtes Kennzeichen');
  await axe(page, 'genuine-de');
  // the switch: back to English, remembered for the next page
  await page.getByLabel('Sprache').selectOption('en');
  await page.waitForFunction(() => document.documentElement.lang === 'en'
    && document.getElementById('headline').textContent === 'Genuine');
  s = await shown(page);
  assert.equal(s.lang, 'en');
  assert.equal(s.headline, 'Genuine');
  assert.equal(s.facts.Category, 'Smart camera');
  assert.equal(s.facts['Security updates until'], 'December 31, 2030');
  await page.reload();
  await page.waitForFunction(() => window.__cyberlabel.state === 'done');
  assert.equal((await shown(page)).headline, 'Genuine');
  await context.close();

  // a revoked label in German
  const r = await mint(server, { product: 'SmartCam Widerruf' });
  await api(server, 'POST', `/labels/${r.index}/revoke`, { reason: 6 });
  const d = await newPage(browser, { locale: 'de-DE' });
  const w = await open(d.page, r.payload_url);
  assert.equal(w.report.verdict, 'revoked');
  s = await shown(d.page);
  assert.equal(s.headline, 'Widerrufen');
  assert.equal(s.summary, 'Die ausgebende Stelle hat dieses Kennzeichen zurückgezogen.');
  assert.equal(s.note, 'Angegebener Grund: Eine Prüfung hat ergeben, dass das Produkt die Anforderungen nicht erfüllt.');
  await d.context.close();
});

test('a photo of a QR code that is not a label says so, not "Label found"', async () => {
  // a QR code of an ordinary web address, drawn by zxing-cpp (the Python test tools)
  const png = join(tmp('notlabel'), 'qr.png');
  execFileSync(PYTHON, ['-c', `
import sys, zxingcpp
from PIL import Image
b = zxingcpp.create_barcode('https://example.com/not-a-label', zxingcpp.BarcodeFormat.QRCode)
Image.fromarray(zxingcpp.write_barcode_to_image(b, scale=8)).save(sys.argv[1])
`, png], { stdio: 'pipe' });
  const { context, page } = await newPage(browser, { locale: 'en-US' });
  await page.goto(`${server.base}/v`);
  await page.waitForFunction(() => window.__cyberlabel.state === 'idle');
  await page.setInputFiles('#photo', png);
  const v = await verdictOf(page);
  assert.equal(v.report.verdict, 'malformed', JSON.stringify(v.report));
  assert.equal(v.headline, 'Not a label');
  assert.equal(await page.locator('#scan-status').textContent(), 'The QR code read is not a cybersecurity label.');
  assert.doesNotMatch(v.text, /Label found/);
  await context.close();
});
