// Across processes: the recommendation service with the real profile
// service (the journey service is absent). Consent comes from the profile
// (a grant changes what is allowed), outcomes are idempotent, the agent's
// GetCustomerContext carries the recommendations, and EraseCustomer removes
// every recommendation key of the customer (once the journey service, which
// an erasure needs, is started).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Suite, unary, waitFor, grpc } from './harness.mjs';

const suite = new Suite(['ingestion', 'profile', 'recommendation']);
let ingestion;
let profile;
let reco;
let admin;
before(async () => {
  await suite.start({
    OMNICX_RECOMMEND_BUDGET: '2s',
    OMNICX_CONTEXT_RECOMMENDATION_TIMEOUT: '3s',
    OMNICX_CONTEXT_JOURNEY_TIMEOUT: '200ms',
    OMNICX_CONTEXT_TIMEOUT: '4s',
  });
  ingestion = suite.client('ingestion', 'app');
  profile = suite.client('profile', 'agent');
  reco = suite.client('recommendation', 'agent');
  admin = suite.client('profile', 'admin');
});
after(async () => {
  ingestion.close(); profile.close(); reco.close(); admin.close();
  await suite.stop();
});

const phone = { identity: { type: 'phone', value: '+1 555 010 9999' } };
const reason = (res, id) => (res.suppressed.find((s) => s.action_id === id) || {}).reason;
const section = (res, name) => (res.sections.find((s) => s.section === name) || {}).code;

test('consent from the profile, outcomes, context and erasure', async () => {
  const now = Math.floor(Date.now() / 1000);
  const { err } = await unary(ingestion, 'Track', { interaction: {
    event_id: 'r-1', customer: phone, channel: 'CHANNEL_WEB', type: 'purchase',
    occurred_at: { seconds: String(now - 60), nanos: 0 }, value: 80 } });
  assert.equal(err, null);
  let cid;
  assert.ok(await waitFor(async () => {
    const r = await unary(profile, 'GetProfile', { customer: phone });
    cid = r.res && r.res.profile.customer_id;
    return !r.err;
  }, 5000) >= 0);

  // No consent yet: marketing actions are out for that reason.
  let r = await unary(reco, 'Recommend', { customer: phone, channel: 'CHANNEL_EMAIL', explain: true });
  assert.equal(r.err, null);
  assert.equal(r.res.fallback, false);
  assert.equal(section(r.res, 'profile'), 0);
  assert.equal(section(r.res, 'journey'), 0); // read from Redis: no journey state yet
  assert.equal(reason(r.res, 'cross_sell_premium_upgrade'), 'consent:marketing missing');

  // Granted at the profile service: the consent gate passes (the journey
  // having no state yet, as the journey service is absent, is what keeps the
  // offer out now).
  const c = await unary(profile, 'SetConsent', { customer: phone, purpose: 'marketing', granted: true });
  assert.equal(c.err, null);
  r = await unary(reco, 'Recommend', { customer: phone, channel: 'CHANNEL_EMAIL', explain: true });
  assert.equal(r.err, null);
  assert.equal(reason(r.res, 'cross_sell_premium_upgrade'),
    'eligibility:stage UNSPECIFIED not in [ENGAGED, LOYAL, ADVOCATE]');
  assert.ok(r.res.actions.length > 0, JSON.stringify(r.res));
  const first = r.res.actions[0].action_id;

  const outcome = { decision_id: r.res.decision_id, action_id: first, customer: phone,
    response: 'ACTION_RESPONSE_PRESENTED' };
  let o = await unary(reco, 'RecordOutcome', outcome);
  assert.equal(o.err, null);
  assert.equal(o.res.recorded, true);
  o = await unary(reco, 'RecordOutcome', outcome);
  assert.equal(o.res.recorded, false);
  o = await unary(reco, 'RecordOutcome', { ...outcome, decision_id: 'd_nope' });
  assert.equal(o.err.code, 5); // NOT_FOUND

  // The agent's one call carries next-best actions from this service. (For
  // another customer: the decisions above hold this one's daily contact cap,
  // and with no journey state only the education actions are eligible.)
  const other = { identity: { type: 'phone', value: '+15550008888' } };
  assert.equal((await unary(ingestion, 'Track', { interaction: {
    event_id: 'r-2', customer: other, channel: 'CHANNEL_WEB', type: 'purchase',
    occurred_at: { seconds: String(now - 60), nanos: 0 }, value: 20 } })).err, null);
  assert.ok(await waitFor(async () => !(await unary(profile, 'GetProfile', { customer: other })).err, 5000) >= 0);
  const ctx = await unary(profile, 'GetCustomerContext', { customer: other, include_recommendations: true });
  assert.equal(ctx.err, null);
  assert.equal(section(ctx.res, 'recommendations'), 0, JSON.stringify(ctx.res.sections));
  assert.ok(ctx.res.next_best_actions.length > 0, JSON.stringify(ctx.res));

  const redisKeys = (pattern) => suite.redis.cli(['--scan', '--pattern', pattern])
    .split('\n').filter(Boolean);
  // Per-customer keys are `cx:<tenant>:{p:<partition>}:c:<id>:<kind>`.
  const perCustomer = (k) => /^cx:[^:]+:\{p:\d+\}:c:/.test(k);
  assert.ok(redisKeys('*nba:*').some(perCustomer), 'recommendation keys were written');
  // An erasure needs the journey service to forget the customer: without
  // it, it fails closed; once it runs, a retry completes.
  const erase = () => unary(admin, 'EraseCustomer', { customer: { customer_id: cid } });
  assert.equal((await erase()).err.code, grpc.status.UNAVAILABLE);
  await suite.startService('journey');
  let e;
  assert.ok(await waitFor(async () => { e = await erase(); return !e.err; }, 10000) >= 0,
    `erasure did not complete: ${e.err && e.err.details}`);
  // (Keys are `...:c:r<id>:...` for ids of plain characters; the other
  // customer's stay.)
  assert.deepEqual(redisKeys('*nba:*').filter((k) => perCustomer(k) && k.includes(`:c:r${cid}:`)), []);
});
