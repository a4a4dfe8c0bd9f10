// The foundation's promises, checked from outside with an independent
// client: health and reflection on every service, Prometheus metrics,
// readiness that follows Redis without restarts, graceful SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Suite, SERVICES, healthCheck, listServices, httpGet, waitFor, unary, grpc, sleep,
} from './harness.mjs';

const suite = new Suite();
// No per-credential rate limit: the SIGTERM test's 8 callers send about
// 5,000 GetJourney calls in its few hundred milliseconds, past the default
// burst (4,000) plus rate (2,000/s), and RESOURCE_EXHAUSTED is not what it
// tests. The limit is the authenticator's own unit test's business.
before(async () => { await suite.start({ OMNICX_AUTH_RATE_LIMIT: '0' }); });
after(async () => { await suite.stop(); });

test('every service reports SERVING for "", its own name and liveness', async () => {
  for (const [name, full] of Object.entries(SERVICES)) {
    const addr = suite.services[name].address;
    assert.equal(await healthCheck(addr, ''), 'SERVING', name);
    assert.equal(await healthCheck(addr, full), 'SERVING', name);
    assert.equal(await healthCheck(addr, 'liveness'), 'SERVING', name);
  }
});

test('reflection lists each service on its port', async () => {
  for (const [name, full] of Object.entries(SERVICES)) {
    const names = await listServices(suite.services[name].address);
    assert.ok(names.includes(full), `${name}: ${names}`);
    assert.ok(names.includes('grpc.health.v1.Health'), `${name}: ${names}`);
  }
});

test('metrics endpoint serves Prometheus text with request and process metrics', async () => {
  const s = suite.services.ingestion;
  const c = suite.client('ingestion', 'app');
  await unary(c, 'TrackBatch', { interactions: [] });
  c.close();
  const res = await httpGet(s.metricsPort, '/metrics');
  assert.equal(res.status, 200);
  assert.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.match(res.body, /^# TYPE process_cpu_seconds_total counter$/m);
  assert.match(res.body, /^process_resident_memory_bytes \d+/m);
  assert.match(res.body, /^grpc_server_handled_total\{method="\/omnicx\.v1\.IngestionService\/TrackBatch",code="[A-Z_]+"\} 1$/m);
  assert.match(res.body, /^grpc_server_handling_seconds_bucket\{method="\/omnicx\.v1\.IngestionService\/TrackBatch",le="\+Inf"\} 1$/m);
  assert.match(res.body, /^redis_command_duration_seconds_count\{command="PING"\} \d+/m);
  assert.equal((await httpGet(s.metricsPort, '/nope')).status, 404);
});

test('readiness follows Redis within 5 s, without restarting any service', async () => {
  const pids = Object.values(suite.services).map((s) => s.proc.pid);
  await suite.redis.stop();
  for (const [name, s] of Object.entries(suite.services)) {
    const ms = await waitFor(async () => (await healthCheck(s.address, '')) === 'NOT_SERVING', 5000);
    assert.ok(ms >= 0, `${name} still SERVING 5 s after Redis stopped`);
    assert.equal(await healthCheck(s.address, 'liveness'), 'SERVING', `${name} liveness`);
  }
  await suite.redis.start();
  for (const [name, s] of Object.entries(suite.services)) {
    const ms = await waitFor(async () => (await healthCheck(s.address, '')) === 'SERVING', 5000);
    assert.ok(ms >= 0, `${name} not SERVING 5 s after Redis came back`);
  }
  assert.deepEqual(Object.values(suite.services).map((s) => s.proc.pid), pids);
});

test('SIGTERM under load: calls in flight finish, the process exits 0', async () => {
  const s = suite.services.journey;
  const c = suite.client('journey', 'agent');
  const codes = {};
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const { err } = await unary(c, 'GetJourney', { customer: { customer_id: 'c1' } }, 2000);
      const code = err ? grpc.status[err.code] : 'OK';
      codes[code] = (codes[code] || 0) + 1;
      if (err && err.code === grpc.status.UNAVAILABLE) break;
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  await sleep(300);
  const code = await s.terminate('SIGTERM');
  stop = true;
  await Promise.all(workers);
  c.close();
  assert.equal(code, 0, s.log);
  // Served answers, or refusals for calls that raced the listener closing
  // (UNAVAILABLE, or CANCELLED for a call the server had not started). That
  // a call already running is let finish is tested in-process with a slow
  // handler (tests/libs/server/server_test.cc).
  for (const k of Object.keys(codes)) {
    assert.ok(['OK', 'NOT_FOUND', 'UNIMPLEMENTED', 'UNAVAILABLE', 'CANCELLED'].includes(k), JSON.stringify(codes));
  }
  assert.ok((codes.OK || 0) + (codes.NOT_FOUND || 0) + (codes.UNIMPLEMENTED || 0) > 0, JSON.stringify(codes));
});
