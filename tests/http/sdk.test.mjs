// The server SDKs from npm, unmodified and configured only with their host
// option, send the six Segment calls to the HTTP API; every messageId is
// then in the customer's timeline exactly once — also when omnicx stored a
// request whose answer the SDK saw as a 500 and sent again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Omnicx, FailOnceProxy, occurrences, eventIdOf } from './omnicx.mjs';
import { waitFor } from '../e2e/harness.mjs';

const omnicx = new Omnicx();
before(async () => { await omnicx.start(); });
after(async () => { await omnicx.stop(); });

// The six calls for `userId`, each with a messageId the test chose (the SDKs
// keep a caller's messageId); returns the messageIds.
function sendSix(analytics, userId, tag) {
  const id = (type) => `${tag}-${type}`;
  analytics.track({ userId, event: 'Order Completed', properties: { total: 42.5, currency: 'EUR' },
    messageId: id('track') });
  analytics.identify({ userId, traits: { plan: 'pro', name: 'Test User' }, messageId: id('identify') });
  analytics.page({ userId, name: 'Pricing', properties: { path: '/pricing' }, messageId: id('page') });
  analytics.screen({ userId, name: 'Settings', properties: { tab: 'billing' }, messageId: id('screen') });
  analytics.group({ userId, groupId: 'acme', traits: { employees: 40 }, messageId: id('group') });
  analytics.alias({ userId, previousId: `${userId}-anon`, messageId: id('alias') });
  return ['track', 'identify', 'page', 'screen', 'group', 'alias'].map(id);
}

// The omnicx type of each call (docs/http-api.md): Order Completed is a
// purchase, page and screen are page views, the rest custom types.
const TYPES = { track: 'purchase', identify: 'x-identify', page: 'page_view',
  screen: 'page_view', group: 'x-group', alias: 'x-alias' };

// Waits until every messageId is in the timeline, then (after a later event
// of the same customer is in) checks that each is there exactly once, with
// its call's type; the track's total is the purchase's value.
async function assertOnceInTimeline(userId, messageIds) {
  let ids = [];
  const ms = await waitFor(async () => {
    ids = await omnicx.timelineIds({ userId });
    return messageIds.every((m) => ids.includes(eventIdOf(m)));
  }, 10000);
  assert.ok(ms >= 0, `not all in ${userId}'s timeline: ${JSON.stringify(ids)}`);
  ids = await omnicx.settled({ userId });
  assert.deepEqual(occurrences(ids, messageIds), Object.fromEntries(messageIds.map((m) => [m, 1])));
  const byId = new Map((await omnicx.timeline({ userId })).map((e) => [e.event_id, e]));
  const call = (m) => m.slice(m.lastIndexOf('-') + 1);
  assert.deepEqual(Object.fromEntries(messageIds.map((m) => [call(m), byId.get(eventIdOf(m)).type])), TYPES);
  assert.equal(byId.get(eventIdOf(messageIds[0])).value, 42.5);
  console.log(`# ${userId}: ${messageIds.length} messageIds each once in the timeline, types ${JSON.stringify(TYPES)}`);
}

// The SDKs as they ship: only the host option.
const segment = (host) => new SegmentAnalytics({ writeKey: omnicx.writeKey, host });
const rudder = (dataPlaneUrl) => new RudderAnalytics(omnicx.writeKey, { dataPlaneUrl });

test('@segment/analytics-node: track identify page screen group alias, each once', async () => {
  const analytics = segment(omnicx.httpBase);
  const errors = [];
  analytics.on('error', (e) => errors.push(e));
  const ids = sendSix(analytics, 'sdk-seg-user', 'seg');
  await analytics.closeAndFlush({ timeout: 20000 });
  assert.deepEqual(errors, []);
  await assertOnceInTimeline('sdk-seg-user', ids);
});

test('@rudderstack/rudder-sdk-node: track identify page screen group alias, each once', async () => {
  const analytics = rudder(omnicx.httpBase);
  const ids = sendSix(analytics, 'sdk-rud-user', 'rud');
  await analytics.flush();
  await assertOnceInTimeline('sdk-rud-user', ids);
});

test('@segment/analytics-node: a stored batch answered 500 is retried (new sentAt), stored once', async () => {
  const proxy = new FailOnceProxy(omnicx.httpBase);
  await proxy.start();
  try {
    const analytics = segment(proxy.url);
    const ids = sendSix(analytics, 'sdk-seg-retry', 'seg-retry');
    await analytics.closeAndFlush({ timeout: 30000 });
    // omnicx accepted the first attempt, the SDK saw a 500 and sent it again.
    assert.deepEqual(proxy.requests.map((r) => [r.upstream, r.answered]), [[200, 500], [200, 200]]);
    await assertOnceInTimeline('sdk-seg-retry', ids);
  } finally { await proxy.stop(); }
});

test('@rudderstack/rudder-sdk-node: a stored gzip batch answered 500 is retried byte for byte, stored once', async () => {
  const proxy = new FailOnceProxy(omnicx.httpBase);
  await proxy.start();
  try {
    const analytics = rudder(proxy.url);
    const ids = sendSix(analytics, 'sdk-rud-retry', 'rud-retry');
    await analytics.flush();
    // Rudder flushes its first event alone: that request was answered 500
    // and sent again; the other five go in one more request.
    assert.deepEqual(proxy.requests.map((r) => r.upstream), [200, 200, 200]);
    assert.deepEqual(proxy.requests.map((r) => r.answered).sort(), [200, 200, 500]);
    assert.equal(proxy.requests[0].answered, 500);
    await assertOnceInTimeline('sdk-rud-retry', ids);
  } finally { await proxy.stop(); }
});
