// Dev scaffolding: records what the SDKs send (not an assertion target).
// node dev/record.mjs <segment|rudder> [fail-first-N]
import http from 'node:http';
import zlib from 'node:zlib';
import { Analytics as Segment } from '@segment/analytics-node';
import Rudder from '@rudderstack/rudder-sdk-node';

const which = process.argv[2];
let failFirst = Number(process.argv[3] || 0);
const log = [];
const t0 = Date.now();
const srv = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let raw = Buffer.concat(chunks);
    let body = raw;
    if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(raw);
    const status = failFirst-- > 0 ? 500 : 200;
    console.log(JSON.stringify({ t: Date.now() - t0, method: req.method, url: req.url, headers: req.headers,
      rawBytes: raw.length, status, body: JSON.parse(body.toString()) }, null, 1));
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(status === 200 ? '{"success":true}' : '{"error":"x"}');
  });
});
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
const port = srv.address().port;
const base = `http://127.0.0.1:${port}`;
const ctx = {};
if (which === 'segment') {
  const a = new Segment({ writeKey: 'wk-seg', host: base });
  a.track({ userId: 'u1', event: 'Order Completed', properties: { total: 3 }, messageId: 'm-track' });
  a.identify({ userId: 'u1', traits: { email: 'a@example.com' } });
  a.page({ userId: 'u1', name: 'Home', properties: { url: 'http://x/' } });
  a.screen({ anonymousId: 'anon1', name: 'Main' });
  a.group({ userId: 'u1', groupId: 'g1', traits: { name: 'G' } });
  a.alias({ userId: 'u1', previousId: 'anon1' });
  await a.closeAndFlush({ timeout: 60000 });
} else {
  const a = new Rudder('wk-rud', { dataPlaneUrl: base, logLevel: 'error' });
  a.track({ userId: 'u1', event: 'Order Completed', properties: { total: 3 }, messageId: 'm-track' });
  a.identify({ userId: 'u1', traits: { email: 'a@example.com' } });
  a.page({ userId: 'u1', name: 'Home', properties: { url: 'http://x/' } });
  a.screen({ anonymousId: 'anon1', name: 'Main' });
  a.group({ userId: 'u1', groupId: 'g1', traits: { name: 'G' } });
  a.alias({ userId: 'u1', previousId: 'anon1' });
  await a.flush();
}
srv.close();
srv.closeAllConnections();
