// The security model, checked against the real processes: every method
// wants a credential, roles limit what a credential may call, a process
// serves only its own tenant, identities from an untrusted write key are
// claims that never link, reads are masked (only an admin export is raw),
// consents from the future are refused, rights operations are audited
// without the customer id, and an erasure fails closed while the journey
// service cannot forget.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Suite, SERVICES, omnicxPkg, healthCheck, unary, grpc, waitFor,
} from './harness.mjs';

const suite = new Suite(Object.keys(SERVICES), { otherTenants: ['other'] });
const clients = [];
// A client of `service` as `role` (of `tenant`), closed after the suite.
const as = (service, role, tenant) => {
  const c = suite.client(service, role, tenant);
  clients.push(c);
  return c;
};
before(async () => { await suite.start(); });
after(async () => {
  for (const c of clients) c.close();
  await suite.stop();
});

const at = (secondsAgo) => ({ seconds: String(Math.floor(Date.now() / 1000) - secondsAgo), nanos: 0 });
const codeName = (err) => (err ? grpc.status[err.code] : 'OK');
let nextEvent = 0;
const event = (customer, extra = {}) => ({
  event_id: `sec-${++nextEvent}`, customer, channel: 'CHANNEL_WEB', type: 'page_view',
  occurred_at: at(5), ...extra,
});

// Every method of every service, from the protos, with a request that would
// change something were it let through.
function methodsOf(service) {
  const full = SERVICES[service];
  const def = full.split('.').reduce((o, k) => o[k], omnicxPkg).service;
  return Object.entries(def).map(([name, m]) => ({ name, streaming: m.requestStream }));
}

function requestFor(method, cid) {
  const customer = { customer_id: cid };
  const interaction = event(customer);
  return {
    Track: { interaction },
    TrackBatch: { interactions: [interaction] },
    TrackStream: { interaction },
    GetProfile: { customer },
    UpdateTraits: { customer, traits: { fields: { plan: { string_value: 'gold' } } } },
    LinkIdentities: { customer, identities: [{ type: 'email', value: 'intruder@example.com' }] },
    MergeProfiles: { a: customer, b: { anonymous_id: 'intruder-anon' } },
    GetTimeline: { customer },
    SetConsent: { customer, purpose: 'marketing', granted: true },
    GetCustomerContext: { customer },
    ExportCustomer: { customer },
    EraseCustomer: { customer },
    GetJourney: { customer },
    ListPainPoints: { limit: 3 },
    GetFunnel: {},
    GetChurnModel: {},
    ForgetCustomer: { customer_id: cid },
    Recommend: { customer, channel: 'CHANNEL_EMAIL' },
    DecideForContext: { request: { customer, channel: 'CHANNEL_EMAIL' },
      profile: { customer_id: cid, consented_purposes: ['marketing'] } },
    RecordOutcome: { decision_id: 'd_0', action_id: 'a', customer, response: 'ACTION_RESPONSE_ACCEPTED' },
    ListActions: {},
    UpsertAction: { action: { action_id: 'intruder_offer', kind: 'ACTION_KIND_OFFER', name: 'x' } },
    GetActionStats: {},
  }[method];
}

// Calls `method` (unary, or the bidi TrackStream with one message) and
// answers { code, details }.
function call(c, { name, streaming }, request) {
  if (!streaming) {
    return unary(c, name, request).then(({ err }) => ({ code: codeName(err), details: err && err.details }));
  }
  return new Promise((resolve) => {
    const s = c[name]({ deadline: Date.now() + 5000 });
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('status', (st) => resolve({ code: grpc.status[st.code], details: st.details }));
    s.write(request);
    s.end();
  });
}

// Calls every method of every service with the client `clientOf(service)`
// makes; each must answer `expected`, and no answer may echo `secret`.
async function everyMethod(clientOf, cid, expected, secret) {
  for (const service of Object.keys(SERVICES)) {
    const c = clientOf(service);
    clients.push(c);
    for (const m of methodsOf(service)) {
      const { code, details } = await call(c, m, requestFor(m.name, cid));
      assert.equal(code, expected, `${service}.${m.name}: ${details}`);
      if (secret) assert.ok(!details.includes(secret), `${service}.${m.name} echoes the key`);
    }
  }
}

// Tracks one event as the trusted app and waits until the profile service
// has it: the customer's id.
async function customerWith(identities) {
  const anon = `sec-anon-${nextEvent + 1}`;
  const app = as('ingestion', 'app');
  const t = await unary(app, 'Track', { interaction: event({ anonymous_id: anon }, { identities }) });
  assert.equal(t.err, null);
  const admin = as('profile', 'admin');
  let r;
  assert.ok(await waitFor(async () => {
    r = await unary(admin, 'GetProfile', { customer: { anonymous_id: anon } });
    return !r.err;
  }, 5000) >= 0, `profile not there: ${codeName(r.err)}`);
  return r.res.profile.customer_id;
}

test('every method: no credential or an unknown key → UNAUTHENTICATED; health needs none', async () => {
  const cid = 'c_00000000000000000000000000000000';
  await everyMethod((service) => suite.client(service, null), cid, 'UNAUTHENTICATED');
  const garbage = 'ocx_not-a-key-at-all-0123456789abcdefghijklmnopq';
  await everyMethod((service) => suite.clientWithKey(service, garbage), cid, 'UNAUTHENTICATED', garbage);
  for (const [name, full] of Object.entries(SERVICES)) {
    assert.equal(await healthCheck(suite.services[name].address, ''), 'SERVING', name);
    assert.equal(await healthCheck(suite.services[name].address, full), 'SERVING', name);
  }
});

test('roles: each credential may call only its methods', async () => {
  const cid = await customerWith([{ type: 'email', value: 'roles@example.com' }]);
  const customer = { customer_id: cid };
  const denied = async (service, role, method, request) => {
    const { code } = await call(as(service, role), { name: method, streaming: false }, request);
    assert.equal(code, 'PERMISSION_DENIED', `${role} ${method}`);
  };
  await denied('profile', 'agent', 'EraseCustomer', { customer });
  await denied('profile', 'agent', 'ExportCustomer', { customer });
  await denied('ingestion', 'analyst', 'Track', { interaction: event(customer) });
  await denied('ingestion', 'agent', 'TrackBatch', { interactions: [event(customer)] });
  await denied('profile', 'app', 'GetProfile', { customer });
  await denied('profile', 'service', 'GetTimeline', { customer });
  await denied('journey', 'agent', 'GetFunnel', {});
  await denied('recommendation', 'analyst', 'Recommend', { customer });
  // Only the profile service's own identity may hand a profile in.
  for (const role of ['agent', 'service']) {
    await denied('recommendation', role, 'DecideForContext',
      { request: { customer }, profile: { customer_id: cid, consented_purposes: ['marketing'] } });
  }
  await denied('recommendation', 'agent', 'UpsertAction', { action: { action_id: 'x' } });

  assert.equal((await unary(as('journey', 'analyst'), 'GetFunnel', {})).err, null);
  assert.equal((await unary(as('journey', 'admin'), 'GetFunnel', {})).err, null);
  assert.equal((await unary(as('profile', 'service'), 'GetProfile', { customer })).err, null);
  const exported = await unary(as('profile', 'admin'), 'ExportCustomer', { customer });
  assert.equal(exported.err, null);
  assert.equal(exported.res.profile.customer_id, cid);
});

test("another tenant's admin key: PERMISSION_DENIED on every method, nothing written", async () => {
  const cid = await customerWith([{ type: 'email', value: 'tenant@example.com' }]);
  // The journey service has the event too: from here on, nothing changes
  // the keys of this idle suite but a call let through.
  const journey = as('journey', 'agent');
  assert.ok(await waitFor(async () => {
    const r = await unary(journey, 'GetJourney', { customer: { customer_id: cid } });
    return !r.err && Number(r.res.journey.event_count) === 1;
  }, 5000) >= 0);
  const admin = as('profile', 'admin');
  const catalog = as('recommendation', 'admin');
  const snapshot = async () => ({
    keys: suite.redis.cli(['--scan', '--pattern', 'cx:*']).split('\n').filter(Boolean).sort(),
    profile: (await unary(admin, 'ExportCustomer', { customer: { customer_id: cid } })).res,
    catalog: (await unary(catalog, 'ListActions', {})).res.version,
  });
  // An export is audited, and the first makes the audit stream: snapshot
  // twice and keep the second.
  await snapshot();
  const before = await snapshot();
  const auditBefore = suite.redis.cli(['XLEN', 'cx:default:{audit}:stream']).trim();

  const otherAdmin = suite.key('admin', 'other');
  await everyMethod((service) => suite.clientWithKey(service, otherAdmin), cid, 'PERMISSION_DENIED',
    otherAdmin);

  const afterKeys = suite.redis.cli(['--scan', '--pattern', 'cx:*']).split('\n').filter(Boolean).sort();
  assert.deepEqual(afterKeys, before.keys);
  assert.deepEqual(suite.redis.cli(['--scan', '--pattern', 'cx:other:*']).trim(), '');
  assert.equal(suite.redis.cli(['XLEN', 'cx:default:{audit}:stream']).trim(), auditBefore);
  const after = await snapshot();
  assert.deepEqual(after.profile, before.profile);
  assert.equal(after.catalog, before.catalog);
});

test('untrusted write key: identities are claims that never link; the trusted app key links', async () => {
  const anon = 'sec-claimant';
  const email = 'claimer@example.com';
  const phone = '+15550104242';
  const identities = [{ type: 'email', value: email }, { type: 'phone', value: '+1 555 010 4242' }];
  const write = as('ingestion', 'write');
  const admin = as('profile', 'admin');
  const agent = as('profile', 'agent');

  // An untrusted key may not name the customer by identity at all.
  const byIdentity = await unary(write, 'Track', { interaction: event({ identity: identities[0] }) });
  assert.equal(codeName(byIdentity.err), 'INVALID_ARGUMENT');
  assert.match(byIdentity.err.details, /interaction\.customer\.identity/);
  assert.ok(!byIdentity.err.details.includes(email));

  const t = await unary(write, 'Track', { interaction: event({ anonymous_id: anon }, { identities }) });
  assert.equal(t.err, null);
  assert.equal(t.res.result.status, 'EVENT_STATUS_ACCEPTED');
  let claimed;
  assert.ok(await waitFor(async () => {
    const r = await unary(admin, 'GetProfile', { customer: { anonymous_id: anon } });
    claimed = r.res && r.res.profile;
    return !r.err && claimed.unverified_identities.length === 2;
  }, 5000) >= 0, `claims not applied: ${JSON.stringify(claimed)}`);
  const cid = claimed.customer_id;

  for (const value of [phone, '+1 555 010 4242']) {
    const p = await unary(agent, 'GetProfile', { customer: { identity: { type: 'phone', value } } });
    assert.equal(codeName(p.err), 'NOT_FOUND');
    const c = await unary(agent, 'GetCustomerContext', { customer: { identity: { type: 'phone', value } } });
    assert.equal(codeName(c.err), 'NOT_FOUND');
  }
  const byEmail = await unary(agent, 'GetProfile', { customer: { identity: { type: 'email', value: email } } });
  assert.equal(codeName(byEmail.err), 'NOT_FOUND');

  // The profile of the anonymous visitor shows the claims, masked.
  const mine = await unary(agent, 'GetProfile', { customer: { anonymous_id: anon } });
  assert.equal(mine.err, null);
  assert.deepEqual(mine.res.profile.unverified_identities.map((i) => `${i.type}=${i.value}`).sort(),
    ['email=c***@example.com', 'phone=+1******4242']);
  assert.ok(!JSON.stringify(mine.res).includes(email));
  assert.ok(!JSON.stringify(mine.res).includes('5550104242'));
  assert.deepEqual(mine.res.profile.identities.map((i) => i.type), ['anonymous_id']);

  // The same from the trusted app key (a server-side collector) links.
  const app = as('ingestion', 'app');
  const linked = await unary(app, 'Track', { interaction: event({ anonymous_id: anon }, { identities }) });
  assert.equal(linked.res.result.status, 'EVENT_STATUS_ACCEPTED');
  let found;
  assert.ok(await waitFor(async () => {
    const r = await unary(agent, 'GetProfile', { customer: { identity: { type: 'phone', value: phone } } });
    found = r;
    return !r.err;
  }, 5000) >= 0, `not linked: ${codeName(found.err)}`);
  assert.equal(found.res.profile.customer_id, cid);
});

test('masking: agent reads never hold a raw email or phone; the admin export does', async () => {
  const email = 'Mask.Me@Example.com';
  const phone = '+15550107001';
  const cid = await customerWith([
    { type: 'email', value: email }, { type: 'phone', value: '+1 555 010 7001' },
  ]);
  const customer = { customer_id: cid };
  const app = as('ingestion', 'app');
  await unary(app, 'Track', { interaction: event(customer, {
    type: 'support_contact', channel: 'CHANNEL_CHAT',
    identities: [{ type: 'email', value: email }],
    feedback: { comment: `reach me at mask.me@example.com or ${phone}` },
    properties: { fields: {
      contact_email: { string_value: email }, callback: { string_value: phone },
    } },
  }) });
  const agent = as('profile', 'agent');
  assert.ok(await waitFor(async () => {
    const r = await unary(agent, 'GetTimeline', { customer });
    return !r.err && r.res.interactions.length === 2;
  }, 5000) >= 0);
  const raw = [email, email.toLowerCase(), phone, '5550107001', '555 010 7001'];
  const holdsRaw = (res) => raw.filter((v) => JSON.stringify(res).includes(v));

  for (const ref of [customer, { identity: { type: 'phone', value: phone } },
    { identity: { type: 'email', value: email } }]) {
    const p = await unary(agent, 'GetProfile', { customer: ref });
    assert.equal(p.err, null);
    assert.deepEqual(holdsRaw(p.res), []);
    const c = await unary(agent, 'GetCustomerContext', { customer: ref, include_recommendations: true });
    assert.equal(c.err, null);
    assert.equal(c.res.recent.length, 2);
    assert.deepEqual(holdsRaw(c.res), []);
    const t = await unary(agent, 'GetTimeline', { customer: ref });
    assert.equal(t.err, null);
    assert.deepEqual(holdsRaw(t.res), []);
  }
  const exported = await unary(as('profile', 'admin'), 'ExportCustomer', { customer });
  assert.equal(exported.err, null);
  const text = JSON.stringify(exported.res);
  assert.ok(text.includes(email.toLowerCase()), 'export lacks the email');
  assert.ok(text.includes(phone), 'export lacks the phone');
});

test('consent: the future is refused; an agent is the source of what it records', async () => {
  const cid = await customerWith([{ type: 'email', value: 'consent@example.com' }]);
  const agent = as('profile', 'agent');
  const future = await unary(agent, 'SetConsent', {
    customer: { customer_id: cid }, purpose: 'marketing', granted: true,
    occurred_at: { seconds: String(Date.UTC(2999, 0, 1) / 1000), nanos: 0 },
  });
  assert.equal(codeName(future.err), 'INVALID_ARGUMENT');

  const set = await unary(agent, 'SetConsent', {
    customer: { customer_id: cid }, purpose: 'marketing', granted: true, source: 'web_form',
  });
  assert.equal(set.err, null);
  const marketing = set.res.consents.find((c) => c.purpose === 'marketing');
  assert.equal(marketing.granted, true);
  assert.equal(marketing.source, 'dev-agent');
});

test('audit: export and erase are recorded with the admin as actor, never the customer id', async () => {
  const cid = await customerWith([{ type: 'email', value: 'audit@example.com' }]);
  const admin = as('profile', 'admin');
  assert.equal((await unary(admin, 'ExportCustomer', { customer: { customer_id: cid } })).err, null);
  assert.equal((await unary(admin, 'EraseCustomer', { customer: { customer_id: cid } })).err, null);

  const text = suite.redis.cli(['--json', 'XRANGE', 'cx:default:{audit}:stream', '-', '+']);
  const records = JSON.parse(text).map(([, fields]) => {
    const r = {};
    for (let i = 0; i < fields.length; i += 2) r[fields[i]] = fields[i + 1];
    return r;
  });
  for (const action of ['export', 'erase']) {
    const mine = records.filter((r) => r.action === action && r.actor === 'dev-admin');
    assert.ok(mine.length > 0, `no ${action} record: ${text}`);
    const last = mine[mine.length - 1];
    assert.equal(last.role, 'admin');
    assert.equal(last.tenant, 'default');
    assert.match(last.customer, /^[0-9a-f]{64}$/);
  }
  assert.ok(!text.includes(cid), 'the audit stream holds a raw customer id');
  assert.ok(!text.includes('audit@example.com'), 'the audit stream holds an identity');
});

test('erasure fails closed while the journey service is down; a retry completes it', async () => {
  const cid = await customerWith([{ type: 'email', value: 'erase-me@example.com' }]);
  const admin = as('profile', 'admin');
  const erase = () => unary(admin, 'EraseCustomer', { customer: { customer_id: cid } });

  await suite.services.journey.terminate('SIGKILL');
  const refused = await erase();
  assert.equal(codeName(refused.err), 'UNAVAILABLE');
  assert.ok(!refused.err.details.includes('127.0.0.1'), refused.err.details);
  const still = await unary(admin, 'ExportCustomer', { customer: { customer_id: cid } });
  assert.equal(still.res.profile.customer_id, cid, 'nothing was deleted');

  await suite.startService('journey');
  let e;
  assert.ok(await waitFor(async () => { e = await erase(); return !e.err; }, 10000) >= 0,
    `erasure did not complete: ${codeName(e.err)}`);
  const gone = await unary(admin, 'GetProfile', { customer: { customer_id: cid } });
  assert.equal(codeName(gone.err), 'NOT_FOUND');
});
