// Across processes: touchpoints tracked at ingestion are resolved by the
// profile service and reach the journey service through the resolved-event
// shards; merges reach it through the merge log. Read back by an
// independent client, by phone number, as an agent console would.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Suite, unary, grpc, waitFor } from './harness.mjs';

const suite = new Suite(['ingestion', 'profile', 'journey']);
let ingestion;
let profile;
let journey;
let analytics;
before(async () => {
  await suite.start();
  ingestion = suite.client('ingestion', 'app');
  profile = suite.client('profile', 'agent');
  journey = suite.client('journey', 'agent');
  analytics = suite.client('journey', 'analyst');
});
after(async () => {
  ingestion.close(); profile.close(); journey.close(); analytics.close();
  await suite.stop();
});

const at = (minutesAgo) => ({ seconds: String(Math.floor(Date.now() / 1000) - minutesAgo * 60), nanos: 0 });
const phone = { identity: { type: 'phone', value: '+1 555 010 7788' } };

async function journeyOf(customer, events) {
  let last;
  const ms = await waitFor(async () => {
    const r = await unary(journey, 'GetJourney', { customer });
    last = r;
    return !r.err && Number(r.res.journey.event_count) === events;
  }, 8000);
  assert.ok(ms >= 0, `journey not complete: ${JSON.stringify(last)}`);
  return last.res.journey;
}

test('a failed delivery and a complaint: at risk, with the reasons and the open case', async () => {
  const events = [
    { event_id: 'j-1', customer: phone, channel: 'CHANNEL_WEB', type: 'purchase',
      occurred_at: at(600), value: 89.9, outcome: 'OUTCOME_SUCCESS' },
    { event_id: 'j-2', customer: phone, channel: 'CHANNEL_WEB', type: 'delivery',
      touchpoint: 'last_mile', occurred_at: at(120), outcome: 'OUTCOME_FAILURE' },
    { event_id: 'j-3', customer: phone, channel: 'CHANNEL_VOICE', type: 'complaint',
      touchpoint: 'ivr_delivery', case_id: 'case-77', occurred_at: at(60),
      wait: { seconds: '900' } },
    { event_id: 'j-4', customer: phone, channel: 'CHANNEL_CHAT', type: 'support_contact',
      touchpoint: 'chat_delivery', case_id: 'case-77', occurred_at: at(30) },
  ];
  const { err, res } = await unary(ingestion, 'TrackBatch', { interactions: events });
  assert.equal(err, null);
  assert.ok(res.results.every((r) => r.status === 'EVENT_STATUS_ACCEPTED'));
  await unary(ingestion, 'TrackBatch', { interactions: events });  // retried: counted once

  const j = await journeyOf({ identity: { type: 'phone', value: '+15550107788' } }, 4);
  assert.equal(j.stage, 'STAGE_AT_RISK');
  assert.ok(j.churn_risk >= 0.3, `churn ${j.churn_risk}`);
  assert.ok(j.health < 40, `health ${j.health}`);
  assert.equal(j.open_cases.length, 1);
  assert.equal(j.open_cases[0].case_id, 'case-77');
  assert.equal(j.open_cases[0].contact_count, 2);
  assert.deepEqual(j.open_cases[0].channels, ['CHANNEL_VOICE', 'CHANNEL_CHAT']);
  assert.ok(j.drivers[0].impact < 0);
  assert.ok(['last_mile', 'ivr_delivery'].includes(j.drivers[0].touchpoint), JSON.stringify(j.drivers));
  assert.ok(j.drivers.some((d) => d.touchpoint === 'purchase' && d.impact > 0));
  assert.ok(j.segments.includes('at_risk'));

  // The aggregates follow about a second behind (the outbox fold, then
  // the read cache): wait until the journey's latest stage shows.
  let pain;
  let funnel;
  const shown = await waitFor(async () => {
    pain = await unary(analytics, 'ListPainPoints', { limit: 3 });
    funnel = await unary(analytics, 'GetFunnel', {});
    // Both reads: ListPainPoints answers from a read cache of its own, which
    // may hold the merge from before the fold for up to a second more.
    return !pain.err && !funnel.err && pain.res.pain_points.length >= 1 &&
      JSON.stringify(funnel.res.stages.map((s) => [s.stage, Number(s.customers)])) ===
        JSON.stringify([['STAGE_AT_RISK', 1]]);
  }, 8000);
  assert.ok(shown >= 0,
    `aggregates not folded: ${JSON.stringify(funnel)} ${JSON.stringify(pain)}`);
  assert.equal(pain.err, null);
  assert.ok(pain.res.pain_points.length >= 1);
  assert.ok(['last_mile', 'ivr_delivery', 'chat_delivery'].includes(pain.res.pain_points[0].touchpoint));
  assert.equal(Number(pain.res.pain_points[0].customers_affected), 1);

  // The agent's one call now carries the journey.
  const ctx = await unary(profile, 'GetCustomerContext', { customer: phone, timeline_limit: 5 });
  assert.equal(ctx.err, null);
  const codes = Object.fromEntries(ctx.res.sections.map((x) => [x.section, x.code]));
  assert.equal(codes.journey, 0, JSON.stringify(ctx.res.sections));
  assert.equal(ctx.res.journey.stage, 'STAGE_AT_RISK');
  assert.equal(ctx.res.journey.open_cases[0].case_id, 'case-77');

  const bad = await unary(analytics, 'ListPainPoints', { limit: 1000 });
  assert.equal(bad.err.code, grpc.status.INVALID_ARGUMENT);
  const unknown = await unary(journey, 'GetJourney',
    { customer: { identity: { type: 'email', value: 'nobody@example.com' } } });
  assert.equal(unknown.err.code, grpc.status.NOT_FOUND);
});

test('two customers who turn out to be one: the journey merges', async () => {
  const a = { identity: { type: 'email', value: 'kim@example.com' } };
  const b = { identity: { type: 'email', value: 'kim.work@example.com' } };
  await unary(ingestion, 'TrackBatch', { interactions: [
    { event_id: 'm-1', customer: a, channel: 'CHANNEL_WEB', type: 'page_view', occurred_at: at(50) },
    { event_id: 'm-2', customer: b, channel: 'CHANNEL_STORE', type: 'purchase', occurred_at: at(40), value: 300 },
  ] });
  await journeyOf(a, 1);
  await journeyOf(b, 1);
  // One touchpoint names both: the profile service merges them.
  await unary(ingestion, 'Track', { interaction:
    { event_id: 'm-3', customer: a, identities: [{ type: 'email', value: 'kim.work@example.com' }],
      channel: 'CHANNEL_MOBILE_APP', type: 'login', occurred_at: at(30) } });
  const merged = await journeyOf(b, 3);
  const same = await journeyOf(a, 3);
  assert.equal(same.customer_id, merged.customer_id);
  assert.equal(merged.stage, 'STAGE_ONBOARDING');
});
