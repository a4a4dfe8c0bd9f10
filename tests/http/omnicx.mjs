// The HTTP tracking API under test: a real redis-server, the ingestion
// service with its HTTP port on and the profile service (from
// tests/e2e/harness.mjs), read back through the profile service's
// GetTimeline with an agent key — the customer's timeline as any client
// sees it. Plus the test-side pieces: a proxy that records what an SDK
// sent (and can answer 500 to a request omnicx stored), and a static server
// for the browser's page.
//
//   const omnicx = new Omnicx();
//   await omnicx.start();
//   // ... point an SDK at omnicx.httpBase with omnicx.writeKey ...
//   await omnicx.settled({ userId: 'u1' });     // every earlier event is in
//   const ids = await omnicx.timelineIds({ userId: 'u1' });
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { Suite, unary, waitFor, freePort } from '../e2e/harness.mjs';

export { freePort };

// The write key's source: the dedupe scope of messageIds.
export const SOURCE = 'sdk-tests';

// The write keys file (docs/http-api.md): `key` for tenant default, an
// untrusted browser source, allowed from `origins`.
export function writeKeysYaml(key, origins) {
  const sha = crypto.createHash('sha256').update(key).digest('hex');
  return `write_keys:
  - name: sdk-tests
    sha256: ${sha}
    tenant: default
    source: ${SOURCE}
    default_channel: web
    allowed_origins: ${JSON.stringify(origins)}
    trusted_identities: false
`;
}

// The timeline's event id for a Segment `messageId`.
export const eventIdOf = (messageId) => `${SOURCE}:${messageId}`;

export class Omnicx {
  // `origins`: the browser origins the write key allows.
  async start({ origins = [] } = {}) {
    // The suite's keys exist once it started (profile); ingestion then
    // starts with a write keys file of the test's own.
    this.suite = new Suite(['profile']);
    await this.suite.start();
    this.profile = this.suite.client('profile', 'agent');
    // The untrusted app key `./omnicx up` provisions as the dev write key.
    this.writeKey = this.suite.key('write');
    const writeKeysFile = path.join(this.suite.dir, 'write-keys.yaml');
    fs.writeFileSync(writeKeysFile, writeKeysYaml(this.writeKey, origins), { mode: 0o600 });
    const ingestion = this.suite.services.ingestion;
    ingestion.env.OMNICX_WRITE_KEYS_FILE = writeKeysFile;
    await this.suite.startService('ingestion');
    // The harness gave it a free loopback HTTP port (OMNICX_HTTP_ADDRESS).
    this.httpPort = ingestion.httpPort;
    const up = await waitFor(() => new Promise((resolve) => {
      const s = net.connect(this.httpPort, '127.0.0.1');
      s.on('connect', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 5000);
    if (up < 0) throw new Error(`ingestion's HTTP port is closed:\n${ingestion.log}`);
    this.httpBase = `http://127.0.0.1:${this.httpPort}`;
  }

  async stop() {
    if (this.profile) this.profile.close();
    if (this.suite) await this.suite.stop();
  }

  // A Segment subject as the profile service's customer reference.
  static ref({ userId, anonymousId }) {
    return userId ? { customer_id: userId } : { anonymous_id: anonymousId };
  }

  // The subject's timeline (Interactions, newest first, all pages); []
  // while the customer is unknown.
  async timeline(subject) {
    const found = await unary(this.profile, 'GetProfile', { customer: Omnicx.ref(subject) });
    if (found.err) return [];
    const events = [];
    let page_token = '';
    do {
      const { err, res } = await unary(this.profile, 'GetTimeline', {
        customer: { customer_id: found.res.profile.customer_id }, page_size: 500, page_token,
      });
      if (err) throw new Error(`GetTimeline: ${err.message}`);
      events.push(...res.interactions);
      page_token = res.next_page_token;
    } while (page_token);
    return events;
  }

  // The event ids of the subject's timeline.
  async timelineIds(subject) {
    return (await this.timeline(subject)).map((e) => e.event_id);
  }

  // Sends one more event for `subject` straight to /v1/track and waits until
  // it is in the timeline: the subject's events go through one ordered
  // stream shard, so everything stored before it is in too. Returns the
  // timeline's event ids.
  async settled(subject, timeoutMs = 10000) {
    const messageId = `settle-${process.hrtime.bigint()}`;
    const res = await post(`${this.httpBase}/v1/track`, {
      ...subject, event: 'Settled', messageId, writeKey: this.writeKey,
    });
    if (res.status !== 200) throw new Error(`settle event: ${res.status} ${res.body}`);
    let ids = [];
    const ms = await waitFor(async () => {
      ids = await this.timelineIds(subject);
      return ids.includes(eventIdOf(messageId));
    }, timeoutMs);
    if (ms < 0) throw new Error(`the settle event never reached the timeline: ${JSON.stringify(ids)}`);
    return ids.filter((id) => id !== eventIdOf(messageId));
  }
}

// POST `body` as JSON; resolves { status, headers, body }.
export function post(url, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request(url, {
      method: 'POST', timeout: 5000,
      headers: { 'content-type': 'application/json', 'content-length': data.length, ...headers },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

// How many times each of `ids` occurs in `timeline`.
export function occurrences(timeline, ids) {
  return Object.fromEntries(ids.map((m) => [m, timeline.filter((e) => e === eventIdOf(m)).length]));
}

// An HTTP proxy in front of omnicx on 127.0.0.1 that records what the SDK
// sent; with `failures`, the first that many POSTs are forwarded and stored
// by omnicx, then answered 500 to the client, so the SDK retries data that
// is already in. Later requests pass through.
export class RecordingProxy {
  constructor(target, { failures = 0 } = {}) {
    this.target = new URL(target);
    this.failures = failures;
    // { path, upstream, answered, sha256 (of the body as sent), sentAt,
    //   events: [{ type, messageId }] }
    this.requests = [];
  }
  // Each messageId sent, once, by the call type that sent it.
  messageIds() {
    const out = {};
    for (const r of this.requests) {
      for (const e of r.events) {
        if (out[e.type] && out[e.type] !== e.messageId) throw new Error(`two ${e.type} calls`);
        out[e.type] = e.messageId;
      }
    }
    return out;
  }
  async start() {
    this.server = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const record = { path: req.url, sha256: crypto.createHash('sha256').update(body).digest('hex') };
        if (req.method === 'POST') {
          const json = JSON.parse((req.headers['content-encoding'] === 'gzip'
            ? zlib.gunzipSync(body) : body).toString());
          record.sentAt = json.sentAt;
          record.events = (json.batch || [json]).map((e) => ({ type: e.type, messageId: e.messageId }));
        }
        const up = http.request({
          host: this.target.hostname, port: this.target.port, path: req.url,
          method: req.method, headers: { ...req.headers, host: this.target.host }, timeout: 5000,
        }, (upRes) => {
          const upChunks = [];
          upRes.on('data', (c) => upChunks.push(c));
          upRes.on('end', () => {
            const fail = req.method === 'POST' && this.failures > 0;
            if (fail) this.failures -= 1;
            if (req.method === 'POST') {
              this.requests.push({ ...record, upstream: upRes.statusCode, answered: fail ? 500 : upRes.statusCode });
            }
            if (fail) {
              res.writeHead(500, { 'content-type': 'application/json' });
              res.end('{"error":"injected by the test proxy"}');
            } else {
              res.writeHead(upRes.statusCode, upRes.headers);
              res.end(Buffer.concat(upChunks));
            }
          });
        });
        up.on('error', () => { res.writeHead(502); res.end(); });
        up.end(body);
      });
    });
    await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

// A static server on 127.0.0.1:`port` (another origin than omnicx's port):
// `/` is `html`, `/analytics-next/bundles/<file>.js` comes from `bundleDir`.
export class StaticServer {
  constructor(html, bundleDir, port = 0) {
    this.html = html; this.bundleDir = bundleDir; this.port = port; this.paths = [];
  }
  async start() {
    this.server = http.createServer((req, res) => {
      this.paths.push(req.url);
      if (req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(typeof this.html === 'function' ? this.html() : this.html);
        return;
      }
      const m = /^\/analytics-next\/bundles\/([\w.-]+\.js)$/.exec(req.url);
      const file = m && `${this.bundleDir}/${m[1]}`;
      if (file && fs.existsSync(file)) {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        res.end(fs.readFileSync(file));
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise((r) => this.server.listen(this.port, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${this.server.address().port}`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}
