// The server SDKs from npm, unmodified and configured only with their host
// option, send the six Segment calls to the HTTP API (through a recording
// proxy, which learns the messageIds the SDKs made up); every messageId is
// then in the customer's timeline exactly once, with its call's type — also
// when omnicx stored a request whose answer the SDK saw as a 500, so the
// SDK sent it again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Analytics as SegmentAnalytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';
import { Omnicx, RecordingProxy, occurrences, eventIdOf } from './omnicx.mjs';
import { waitFor } from '../e2e/harness.mjs';

const omnicx = new Omnicx();
before(async () => { await omnicx.start(); });
after(async () => { await omnicx.stop(); });

// The SDKs as they ship: only the host option.
const segment = (host) => new SegmentAnalytics({ writeKey: omnicx.writeKey, host });
const rudder = (dataPlaneUrl) => new RudderAnalytics(omnicx.writeKey, { dataPlaneUrl });

// The six calls for `userId`; the SDK makes up each messageId.
function sendSix(analytics, userId) {
  analytics.track({ userId, event: 'Order Completed', properties: { total: 42.5, currency: 'EUR' } });
  analytics.identify({ userId, traits: { plan: 'pro', name: 'Test User' } });
  analytics.page({ userId, name: 'Pricing', properties: { path: '/pricing' } });
  analytics.screen({ userId, name: 'Settings', properties: { tab: 'billing' } });
  analytics.group({ userId, groupId: 'acme', traits: { employees: 40 } });
  analytics.alias({ userId, previousId: `${userId}-anon` });
}

// The omnicx type of each call (docs/http-api.md): Order Completed is a
// purchase, page and screen are page views, the rest custom types.
const TYPES = { track: 'purchase', identify: 'x-identify', page: 'page_view',
  screen: 'page_view', group: 'x-group', alias: 'x-alias' };

// `sent`: call type -> messageId. Waits until every messageId is in the
// timeline, then (after a later event of the same customer is in) checks
// that each is there exactly once, with its call's type; the track's total
// is the purchase's value.
async function assertOnceInTimeline(userId, sent) {
  const messageIds = Object.values(sent);
  assert.deepEqual(Object.keys(sent).sort(), Object.keys(TYPES).sort());
  let ids = [];
  const ms = await waitFor(async () => {
    ids = await omnicx.timelineIds({ userId });
    return messageIds.every((m) => ids.includes(eventIdOf(m)));
  }, 10000);
  assert.ok(ms >= 0, `not all in ${userId}'s timeline: ${JSON.stringify({ sent, ids })}`);
  ids = await omnicx.settled({ userId });
  assert.deepEqual(occurrences(ids, messageIds), Object.fromEntries(messageIds.map((m) => [m, 1])));
  const byId = new Map((await omnicx.timeline({ userId })).map((e) => [e.event_id, e]));
  const types = Object.fromEntries(Object.entries(sent).map(([call, m]) => [call, byId.get(eventIdOf(m)).type]));
  assert.deepEqual(types, TYPES);
  assert.equal(byId.get(eventIdOf(sent.track)).value, 42.5);
  console.log(`# ${userId}: each once in the timeline with its type: ${JSON.stringify(sent)}`);
}

async function withProxy(options, body) {
  const proxy = new RecordingProxy(omnicx.httpBase, options);
  await proxy.start();
  try { return await body(proxy); } finally { await proxy.stop(); }
}

test('@segment/analytics-node: track identify page screen group alias, each once', async () => {
  await withProxy({}, async (proxy) => {
    const analytics = segment(proxy.url);
    const errors = [];
    analytics.on('error', (e) => errors.push(e));
    sendSix(analytics, 'sdk-seg-user');
    await analytics.closeAndFlush({ timeout: 20000 });
    assert.deepEqual(errors, []);
    assert.deepEqual(proxy.requests.map((r) => [r.path, r.answered]), [['/v1/batch', 200]]);
    await assertOnceInTimeline('sdk-seg-user', proxy.messageIds());
  });
});

test('@rudderstack/rudder-sdk-node: track identify page screen group alias, each once', async () => {
  await withProxy({}, async (proxy) => {
    const analytics = rudder(proxy.url);
    sendSix(analytics, 'sdk-rud-user');
    await analytics.flush();
    assert.ok(proxy.requests.every((r) => r.path === '/v1/batch' && r.answered === 200),
      JSON.stringify(proxy.requests));
    await assertOnceInTimeline('sdk-rud-user', proxy.messageIds());
  });
});

test('@segment/analytics-node: a stored batch answered 500 is retried (new sentAt), stored once', async () => {
  await withProxy({ failures: 1 }, async (proxy) => {
    const analytics = segment(proxy.url);
    sendSix(analytics, 'sdk-seg-retry');
    await analytics.closeAndFlush({ timeout: 30000 });
    // omnicx accepted the first attempt, the SDK saw a 500 and sent the
    // same events again with a new sentAt.
    const [first, again] = proxy.requests;
    assert.deepEqual(proxy.requests.map((r) => [r.upstream, r.answered]), [[200, 500], [200, 200]]);
    assert.deepEqual(again.events, first.events);
    assert.notEqual(again.sentAt, first.sentAt);
    await assertOnceInTimeline('sdk-seg-retry', proxy.messageIds());
  });
});

test('@rudderstack/rudder-sdk-node: a stored gzip batch answered 500 is retried byte for byte, stored once', async () => {
  await withProxy({ failures: 1 }, async (proxy) => {
    const analytics = rudder(proxy.url);
    sendSix(analytics, 'sdk-rud-retry');
    await analytics.flush();
    // Rudder flushes its first event alone: that request was answered 500
    // and sent again, the same bytes; the other five go in another request.
    const [first] = proxy.requests;
    assert.equal(first.answered, 500);
    const again = proxy.requests.filter((r) => r !== first && r.sha256 === first.sha256);
    assert.deepEqual(again.map((r) => r.answered), [200]);
    assert.deepEqual(proxy.requests.map((r) => r.upstream), [200, 200, 200]);
    await assertOnceInTimeline('sdk-rud-retry', proxy.messageIds());
  });
});
