// Dev scaffolding: records what analytics-next sends from chromium.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const umd = path.resolve('node_modules/@segment/analytics-next/dist/umd');
const t0 = Date.now();
const api = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks).toString();
    console.log(JSON.stringify({ t: Date.now() - t0, method: req.method, url: req.url, headers: req.headers, body: body ? JSON.parse(body) : null }, null, 1));
    res.writeHead(req.method === 'OPTIONS' ? 204 : 200, {
      'access-control-allow-origin': req.headers.origin || '*',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': 'content-type, authorization',
      'content-type': 'application/json' });
    res.end(req.method === 'OPTIONS' ? '' : '{"success":true}');
  });
});
await new Promise((r) => api.listen(0, '127.0.0.1', r));
const apiPort = api.address().port;
const page = `<!doctype html><html><head><title>t</title>
<script>window.analytics = { _cdn: location.origin };</script>
<script src="/analytics-next/bundles/index.js"></script>
<script>
window.ready = AnalyticsNext.AnalyticsBrowser.load({ writeKey: 'wk-web', cdnURL: location.origin,
  cdnSettings: { integrations: { 'Segment.io': { apiKey: 'wk-web', apiHost: '127.0.0.1:${apiPort}/v1', protocol: 'http' } } } },
  { disableClientPersistence: true })
  .then(async ([a]) => { window.a = a; await a.page('Docs', { path: '/docs' }); await a.track('Order Completed', { total: 5 }); return 'ok'; });
window.addEventListener('pagehide', () => navigator.sendBeacon('http://127.0.0.1:${apiPort}/v1/track',
  JSON.stringify({ writeKey: 'wk-web', type: 'track', event: 'Page Left', anonymousId: 'anon-b', messageId: 'beacon-1' })));
</script></head><body>hi</body></html>`;
const stat = http.createServer((req, res) => {
  console.error('static', req.url);
  if (req.url === '/') { res.writeHead(200, { 'content-type': 'text/html' }); return res.end(page); }
  const m = /^\/analytics-next\/bundles\/([\w.-]+\.js)$/.exec(req.url);
  if (m && fs.existsSync(path.join(umd, m[1]))) { res.writeHead(200, { 'content-type': 'text/javascript' }); return res.end(fs.readFileSync(path.join(umd, m[1]))); }
  res.writeHead(404); res.end();
});
await new Promise((r) => stat.listen(0, '127.0.0.1', r));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const ctx = await browser.newContext();
const pg = await ctx.newPage();
pg.on('console', (m) => console.error('console', m.text()));
pg.on('request', (r) => console.error('req', r.method(), r.url()));
await pg.goto(`http://127.0.0.1:${stat.address().port}/`);
console.error('ready', await pg.evaluate(() => window.ready));
await pg.goto('about:blank');
await new Promise((r) => setTimeout(r, 500));
await browser.close();
api.close(); stat.close(); api.closeAllConnections(); stat.closeAllConnections();
