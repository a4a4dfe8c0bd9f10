// Across processes: events tracked at ingestion flow through the Redis
// stream to the profile service's consumer and are read back by identity.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Suite, unary, grpc, waitFor } from './harness.mjs';

const suite = new Suite(['ingestion', 'profile']);
// journey and recommendation are absent: their addresses point nowhere.
let ingestion;
let profile;
before(async () => {
  await suite.start();
  ingestion = suite.client('ingestion', 'app');
  profile = suite.client('profile', 'agent');
});
after(async () => { ingestion.close(); profile.close(); await suite.stop(); });

const at = (minutesAgo) => ({ seconds: String(Math.floor(Date.now() / 1000) - minutesAgo * 60), nanos: 0 });

test('tracked events build one profile and timeline, found by any identity', async () => {
  const events = [
    { event_id: 'p-1', customer: { anonymous_id: 'web-anon-7' }, channel: 'CHANNEL_WEB',
      type: 'product_view', occurred_at: at(30) },
    { event_id: 'p-2', customer: { anonymous_id: 'web-anon-7' }, channel: 'CHANNEL_WEB',
      type: 'purchase', occurred_at: at(20), value: 120.5,
      identities: [{ type: 'email', value: 'Ana@Example.com' }] },
    { event_id: 'p-3', customer: { identity: { type: 'email', value: 'ana@example.com' } },
      channel: 'CHANNEL_VOICE', type: 'support_contact', occurred_at: at(5),
      identities: [{ type: 'phone', value: '+44 20 7946 0958' }] },
  ];
  const { err, res } = await unary(ingestion, 'TrackBatch', { interactions: events });
  assert.equal(err, null);
  assert.ok(res.results.every((r) => r.status === 'EVENT_STATUS_ACCEPTED'));
  // Resend: ingestion deduplicates, so the profile counts each once.
  await unary(ingestion, 'TrackBatch', { interactions: events });

  let found;
  const ms = await waitFor(async () => {
    const r = await unary(profile, 'GetProfile',
      { customer: { identity: { type: 'phone', value: '+442079460958' } } });
    found = r.res;
    return !r.err && Number(r.res.profile.event_count) === 3;
  }, 5000);
  assert.ok(ms >= 0, `profile not complete: ${JSON.stringify(found)}`);
  const p = found.profile;
  assert.equal(p.lifetime_value, 120.5);
  assert.deepEqual(p.identities.map((i) => `${i.type}=${i.value}`).sort(),
    ['anonymous_id=******on-7', 'email=a***@example.com', 'phone=+4*******0958'].sort());

  const byAnon = await unary(profile, 'GetProfile', { customer: { anonymous_id: 'web-anon-7' } });
  assert.equal(byAnon.res.profile.customer_id, p.customer_id);

  const tl = await unary(profile, 'GetTimeline',
    { customer: { customer_id: p.customer_id }, page_size: 2 });
  assert.deepEqual(tl.res.interactions.map((e) => e.event_id), ['p-3', 'p-2']);
  assert.ok(tl.res.next_page_token.length > 0);
  const voice = await unary(profile, 'GetTimeline',
    { customer: { customer_id: p.customer_id }, channels: ['CHANNEL_VOICE'] });
  assert.deepEqual(voice.res.interactions.map((e) => e.event_id), ['p-3']);

  // The agent's one call: journey and recommendation services are not
  // running in this suite, so those sections say UNAVAILABLE and the rest
  // is there.
  const t0 = Date.now();
  const ctx = await unary(profile, 'GetCustomerContext', {
    customer: { identity: { type: 'phone', value: '+44 20 7946 0958' } },
    include_recommendations: true, timeline_limit: 2,
  });
  assert.equal(ctx.err, null);
  assert.ok(Date.now() - t0 < 1000);
  assert.equal(ctx.res.profile.customer_id, p.customer_id);
  assert.deepEqual(ctx.res.recent.map((e) => e.event_id), ['p-3', 'p-2']);
  const codes = Object.fromEntries(ctx.res.sections.map((x) => [x.section, x.code]));
  assert.deepEqual(codes, { profile: 0, timeline: 0, journey: 14, recommendations: 14 });

  const missing = await unary(profile, 'GetProfile',
    { customer: { identity: { type: 'email', value: 'nobody@example.com' } } });
  assert.equal(missing.err.code, grpc.status.NOT_FOUND);
});
