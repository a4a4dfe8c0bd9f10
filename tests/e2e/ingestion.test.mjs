// Ingestion from an independent client: accepted, duplicate on retry, and
// INVALID_ARGUMENT whose google.rpc.Status details decode with the public
// BadRequest definition.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import protobuf from 'protobufjs';
import { Suite, unary, grpc, repoRoot } from './harness.mjs';

const suite = new Suite(['ingestion']);
let ingestion;
before(async () => {
  await suite.start();
  ingestion = suite.client('ingestion', 'app');
});
after(async () => { ingestion.close(); await suite.stop(); });

const now = () => ({ seconds: String(Math.floor(Date.now() / 1000) - 5), nanos: 0 });
const event = (id, extra = {}) => ({
  event_id: id, customer: { identity: { type: 'email', value: ' Jane@Example.COM ' } },
  channel: 'CHANNEL_VOICE', type: 'support_contact', occurred_at: now(), ...extra,
});

test('Track accepts once, then answers DUPLICATE with the same entry', async () => {
  const first = await unary(ingestion, 'Track', { interaction: event('e2e-1') });
  assert.equal(first.err, null);
  assert.equal(first.res.result.status, 'EVENT_STATUS_ACCEPTED');
  assert.match(first.res.result.stream_id, /^\d+\/\d+-\d+$/);
  const again = await unary(ingestion, 'Track', { interaction: event('e2e-1') });
  assert.equal(again.res.result.status, 'EVENT_STATUS_DUPLICATE');
  assert.equal(again.res.result.stream_id, first.res.result.stream_id);
});

test('invalid input: INVALID_ARGUMENT with BadRequest field violations', async () => {
  const { err } = await unary(ingestion, 'Track', {
    interaction: event('e2e-bad', { feedback: { nps: 42 }, channel: 'CHANNEL_UNSPECIFIED' }),
  });
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  const root = new protobuf.Root().loadSync([
    path.join(repoRoot, 'protos/google/rpc/status.proto'),
    path.join(repoRoot, 'protos/google/rpc/error_details.proto'),
  ], { keepCase: true });
  const bin = err.metadata.get('grpc-status-details-bin')[0];
  const status = root.lookupType('google.rpc.Status').decode(bin);
  assert.equal(status.code, 3);
  assert.equal(status.details[0].type_url, 'type.googleapis.com/google.rpc.BadRequest');
  const bad = root.lookupType('google.rpc.BadRequest').decode(status.details[0].value);
  assert.deepEqual(bad.field_violations.map((v) => [v.field, v.description]), [
    ['interaction.channel', 'must be specified'],
    ['interaction.feedback.nps', 'must be between 0 and 10'],
  ]);
});

test('TrackBatch answers per item in order', async () => {
  const { err, res } = await unary(ingestion, 'TrackBatch', {
    interactions: [event('e2e-b1'), event('e2e-b2', { type: 'nope' }), event('e2e-b1')],
  });
  assert.equal(err, null);
  assert.deepEqual(res.results.map((r) => r.status), [
    'EVENT_STATUS_ACCEPTED', 'EVENT_STATUS_REJECTED', 'EVENT_STATUS_DUPLICATE']);
  assert.equal(res.results[1].violations[0].field, 'interactions[1].type');
});
