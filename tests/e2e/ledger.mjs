// The ledger of faults under load, shared by faults.test.mjs and
// cluster.test.mjs: every event id that ingestion acknowledged (ACCEPTED or
// DUPLICATE), with when, checked against what the streams hold and what the
// profile and the journey applied.
//
// The load follows the documented client retry policy (docs/guarantees.md,
// "Retrying"): a batch answered UNAVAILABLE, RESOURCE_EXHAUSTED,
// DEADLINE_EXCEEDED or CANCELLED is sent again, same event ids, after a
// short backoff; any other failure is recorded as one. (Under that, the
// client's channel retries as the service config says: the resends counted
// here are the failures gRPC's own retries did not absorb.) Ingestion creates an
// extra consumer group `ledger` that reads nothing, so no stream entry is
// trimmed and a test can count each id in the streams.
import assert from 'node:assert/strict';
import { Suite, unary, grpc, waitFor, sleep } from './harness.mjs';

export const SHARDS = 16;  // stream_shards default
export const CUSTOMERS = 30;
export const EVENTS = 3000;
export const BATCH = 20;
export const RETRYABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.DEADLINE_EXCEEDED, grpc.status.CANCELLED]);
export const BASE_S = Math.floor(Date.now() / 1000) - 3600;
export const SERVICES = ['ingestion', 'profile', 'journey'];
export const ENV = { OMNICX_CONSUMER_GROUPS: 'profile,ledger' };

const KINDS = [
  { type: 'product_view', channel: 'CHANNEL_WEB' },
  { type: 'add_to_cart', channel: 'CHANNEL_WEB' },
  { type: 'purchase', channel: 'CHANNEL_WEB', value: 20, outcome: 'OUTCOME_SUCCESS' },
  { type: 'delivery', channel: 'CHANNEL_EMAIL', touchpoint: 'last_mile', outcome: 'OUTCOME_FAILURE' },
  { type: 'support_contact', channel: 'CHANNEL_VOICE', touchpoint: 'ivr', wait: { seconds: '120' } },
];

// Event i of run `run`: ids of fixed width, so one never contains another.
export function makeEvent(run, i) {
  return {
    event_id: `${run}-${String(i).padStart(6, '0')}`,
    customer: { customer_id: `${run}-c${i % CUSTOMERS}` },
    occurred_at: { seconds: String(BASE_S + (i % 3600)), nanos: 0 },
    ...KINDS[i % KINDS.length],
  };
}

export function makeEvents(run, count = EVENTS) {
  return Array.from({ length: count }, (_, i) => makeEvent(run, i));
}

export function batchesOf(events) {
  const out = [];
  for (let i = 0; i < events.length; i += BATCH) out.push(events.slice(i, i + BATCH));
  return out;
}

// Sends every batch with 4 workers under the retry policy. `batches` is an
// array, or a function returning the next batch (null when done: a load
// that lasts as long as a fault). `onProgress(n)` runs after each
// acknowledged batch with the ledger's size; the faults it starts are
// awaited before this returns. Each batch must be acknowledged within
// `batchTimeoutMs` of its first try.
export async function drive(ingestion, batches, onProgress = () => null, { batchTimeoutMs = 60000 } = {}) {
  const ledger = new Map();
  const retries = {};
  const failures = [];
  const faults = [];
  let next = 0;
  const nextBatch = typeof batches === 'function' ? batches
    : () => (next < batches.length ? batches[next++] : null);
  const worker = async () => {
    for (let batch = nextBatch(); batch; batch = nextBatch()) {
      const first = Date.now();
      for (;;) {
        if (Date.now() - first > batchTimeoutMs) { failures.push(`batch not acknowledged within ${batchTimeoutMs} ms`); return; }
        const { err, res } = await unary(ingestion, 'TrackBatch', { interactions: batch }, 3000);
        if (err && RETRYABLE.has(err.code)) {
          retries[grpc.status[err.code]] = (retries[grpc.status[err.code]] || 0) + 1;
          await sleep(50);  // the client's backoff, not a wait for the test
          continue;
        }
        if (err) { failures.push(`${grpc.status[err.code]}: ${err.details}`); break; }
        const now = Date.now();
        res.results.forEach((r, i) => {
          if (r.status === 'EVENT_STATUS_ACCEPTED' || r.status === 'EVENT_STATUS_DUPLICATE') {
            if (!ledger.has(batch[i].event_id)) ledger.set(batch[i].event_id, now);
          } else {
            failures.push(`${batch[i].event_id}: ${r.status}`);
          }
        });
        const fault = onProgress(ledger.size);
        if (fault) faults.push(fault);
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  await Promise.all(faults);
  return { ledger, retries, failures };
}

// How many stream entries hold each id of `run`.
export function streamCounts(suite, run) {
  const counts = new Map();
  const re = new RegExp(`${run}-\\d{6}`, 'g');
  for (let k = 0; k < SHARDS; k++) {
    const out = suite.redis.cli(['--raw', 'XRANGE', `cx:default:{ev:${k}}:stream`, '-', '+']);
    for (const m of out.matchAll(re)) counts.set(m[0], (counts.get(m[0]) || 0) + 1);
  }
  return counts;
}

// Every customer's timeline ids, once the profile and the journey have
// applied `expected` (id -> customer) — bounded wait. With `all` false, the
// state as it is (call after settled(): some events may have been lost).
export async function applied(suite, expected, { all = true } = {}) {
  const profile = suite.client('profile', 'agent');
  const journey = suite.client('journey', 'agent');
  const perCustomer = new Map();
  for (const [id, customer] of expected) {
    if (!perCustomer.has(customer)) perCustomer.set(customer, []);
    perCustomer.get(customer).push(id);
  }
  const timelines = new Map();
  const journeys = new Map();
  try {
    for (const [customer, ids] of perCustomer) {
      let last = '';
      const ms = await waitFor(async () => {
        const ref = { customer_id: customer };
        const j = await unary(journey, 'GetJourney', { customer: ref });
        if (j.err || (all && Number(j.res.journey.event_count) < ids.length)) {
          last = j.err ? j.err.details : `journey ${j.res.journey.event_count}`;
          return false;
        }
        const seen = [];
        let token = '';
        do {
          const t = await unary(profile, 'GetTimeline', { customer: ref, page_size: 500, page_token: token });
          if (t.err) { last = t.err.details; return false; }
          seen.push(...t.res.interactions.map((e) => e.event_id));
          token = t.res.next_page_token;
        } while (token);
        last = `timeline ${seen.length}`;
        if (all && seen.length < ids.length) return false;
        timelines.set(customer, seen);
        journeys.set(customer, j.res.journey);
        return true;
      }, 30000, 100);
      assert.ok(ms >= 0, `${customer}: ${ids.length} events not applied in 30 s (${last})`);
    }
  } finally {
    profile.close();
    journey.close();
  }
  return { timelines, journeys };
}

// Waits (bounded) until every consumer group but `ledger` has read and
// acknowledged every entry of every shard: the pipeline is idle.
export async function settled(suite, timeoutMs = 30000) {
  let last = '';
  const ms = await waitFor(() => {
    for (let k = 0; k < SHARDS; k++) {
      let groups;
      try {
        groups = JSON.parse(suite.redis.cli(['--json', 'XINFO', 'GROUPS', `cx:default:{ev:${k}}:stream`]));
      } catch (e) { last = `shard ${k}: ${e.message}`; return false; }
      for (const g of groups) {
        if (g.name === 'ledger') continue;
        if (g.pending !== 0 || (g.lag !== null && g.lag !== 0)) {
          last = `shard ${k} group ${g.name}: pending ${g.pending}, lag ${g.lag}`;
          return false;
        }
      }
    }
    return true;
  }, timeoutMs, 200);
  assert.ok(ms >= 0, `the pipeline did not settle in ${timeoutMs} ms (${last})`);
}

// Each id of `expected` exactly once in its customer's timeline, nothing
// else there, and the journey counted each once.
export function assertAppliedOnce(expected, { timelines, journeys }) {
  const want = new Map();
  for (const [id, customer] of expected) {
    if (!want.has(customer)) want.set(customer, []);
    want.get(customer).push(id);
  }
  for (const [customer, ids] of want) {
    assert.deepEqual([...timelines.get(customer)].sort(), [...ids].sort(), `${customer}'s timeline`);
    assert.equal(Number(journeys.get(customer).event_count), ids.length, `${customer}'s journey count`);
  }
}

export function customerOf(events) {
  return new Map(events.map((e) => [e.event_id, e.customer.customer_id]));
}

export async function withSuite(options, env, body) {
  const suite = new Suite(SERVICES, options);
  await suite.start({ ...ENV, ...env });
  const ingestion = suite.client('ingestion', 'app');
  try {
    await body(suite, ingestion);
  } finally {
    ingestion.close();
    await suite.stop();
  }
}

