// Segment's browser SDK (@segment/analytics-next, its UMD bundle from
// node_modules) in Debian's headless Chromium, on a page of another origin
// (another loopback port), pointed at omnicx by inline settings — no CDN.
// A page view and an event land in the visitor's timeline once, and so
// does a navigator.sendBeacon sent as the page unloads.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Omnicx, StaticServer, occurrences, eventIdOf, freePort } from './omnicx.mjs';
import { waitFor } from '../e2e/harness.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const bundleDir = path.join(here, 'node_modules/@segment/analytics-next/dist/umd');
const chromiumPath = process.env.OMNICX_CHROMIUM || '/usr/bin/chromium';

const omnicx = new Omnicx();
let site;
let sitePort;
let browser;
before(async () => {
  // The page's origin is known before omnicx starts: its write key allows
  // exactly that origin.
  sitePort = await freePort();
  await omnicx.start({ origins: [`http://127.0.0.1:${sitePort}`] });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // --no-sandbox: the suite may run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-background-networking', '--no-first-run'],
    timeout: 20000,
  });
});
after(async () => {
  if (browser) await browser.close();
  if (site) await site.stop();
  await omnicx.stop();
});

// The page: the SDK from the same (static) origin, told where omnicx is;
// `window.run()` sends a page view and a track and answers what it sent.
function pageHtml({ writeKey, apiHost, beaconId }) {
  const settings = {
    writeKey,
    cdnURL: '__ORIGIN__',
    cdnSettings: { integrations: { 'Segment.io': { apiKey: writeKey, apiHost, protocol: 'http' } } },
  };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>omnicx browser test</title>
<link rel="icon" href="data:,">
<script>
  // Lazy chunks (none are needed with these settings) would come from here, not a CDN.
  window.analytics = { _cdn: location.origin };
</script>
<script src="/analytics-next/bundles/index.js"></script>
<script>
  const settings = ${JSON.stringify(settings)};
  settings.cdnURL = location.origin;
  const loaded = AnalyticsNext.AnalyticsBrowser.load(settings);
  window.run = async () => {
    const [analytics] = await loaded;
    const page = await analytics.page('Docs', 'Pricing', { plan: 'pro' });
    const track = await analytics.track('Product Viewed', { sku: 'B-12', price: 19.5 });
    window.anonymousId = analytics.user().anonymousId();
    return {
      anonymousId: window.anonymousId,
      messageIds: [page.event.messageId, track.event.messageId],
      failed: [page.failedDelivery(), track.failedDelivery()].filter(Boolean).map(String),
    };
  };
  // As a page unloads, a beacon is the one request the browser still sends.
  window.addEventListener('pagehide', () => {
    navigator.sendBeacon('http://${apiHost}/track', JSON.stringify({
      writeKey: settings.writeKey, type: 'track', event: 'Page Left',
      anonymousId: window.anonymousId, messageId: ${JSON.stringify(beaconId)},
      properties: { path: location.pathname }, sentAt: new Date().toISOString(),
    }));
  });
</script></head><body><h1>omnicx</h1></body></html>`;
}

test('analytics-next in Chromium: page view, event and unload beacon each land once', async () => {
  const beaconId = `beacon-${Date.now()}`;
  site = new StaticServer(pageHtml({
    writeKey: omnicx.writeKey, apiHost: `127.0.0.1:${omnicx.httpPort}/v1`, beaconId,
  }), bundleDir, sitePort);
  await site.start();
  assert.notEqual(new URL(site.origin).port, String(omnicx.httpPort));

  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  const failed = [];
  const apiResponses = [];
  const consoleErrors = [];
  context.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  context.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.url().startsWith(omnicx.httpBase)) {
      apiResponses.push([r.request().method(), new URL(r.url()).pathname, r.status(),
        r.headers()['access-control-allow-origin'] ?? null]);
    }
  });
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });

  await page.goto(`${site.origin}/`);
  const sent = await page.evaluate(() => window.run());
  assert.deepEqual(sent.failed, []);
  assert.match(sent.anonymousId, /^[0-9a-f-]{36}$/);
  // Before the unload (which aborts reading the bodies no SDK reads):
  // nothing failed in the browser, CORS included.
  assert.deepEqual(failed, []);
  // Unload: the pagehide handler sends the beacon.
  await page.goto('about:blank');

  const subject = { anonymousId: sent.anonymousId };
  const expected = [...sent.messageIds, beaconId];
  let ids = [];
  const ms = await waitFor(async () => {
    ids = await omnicx.timelineIds(subject);
    return expected.every((m) => ids.includes(eventIdOf(m)));
  }, 10000);
  assert.ok(ms >= 0, `not all in the visitor's timeline: ${JSON.stringify({ ids, requests, failed })}`);
  ids = await omnicx.settled(subject);
  assert.deepEqual(occurrences(ids, expected), Object.fromEntries(expected.map((m) => [m, 1])));
  const byId = new Map((await omnicx.timeline(subject)).map((e) => [e.event_id, e]));
  assert.deepEqual(expected.map((m) => [byId.get(eventIdOf(m)).type, byId.get(eventIdOf(m)).channel]), [
    ['page_view', 'CHANNEL_WEB'], ['product_view', 'CHANNEL_WEB'], ['x-page_left', 'CHANNEL_WEB']]);

  // The SDK's own requests: each answered 200 with CORS for the page's
  // origin, the one its write key allows; nothing left loopback.
  const posts = apiResponses.filter(([method]) => method === 'POST');
  assert.deepEqual(posts.map(([, p, status]) => [p, status]), [['/v1/p', 200], ['/v1/t', 200]]);
  for (const [, , , allow] of posts) assert.equal(allow, site.origin);
  assert.deepEqual(consoleErrors, []);
  const outside = requests.filter((r) => !/^\w+ (http:\/\/127\.0\.0\.1:\d+\/|about:blank|data:)/.test(r));
  assert.deepEqual(outside, []);
  console.log(`# browser: page view ${sent.messageIds[0]}, event ${sent.messageIds[1]} and beacon ` +
    `${beaconId} each once; ${site.paths.length} static requests, none to a CDN`);
  await context.close();
});
