// Starts a real redis-server and omnicx service binaries on free loopback
// ports for end-to-end tests, and talks to them with @grpc/grpc-js — a client
// built from nothing in this repository's C++.
//
// Authentication is on, as in production: the suite provisions API keys
// with tools/api-keys/provision.sh in its temporary folder and a test talks
// as a role:
//
//   const suite = new Suite(['ingestion', 'profile']);
//   await suite.start();
//   const profile = suite.client('profile', 'agent');   // Bearer <agent key>
//   const { err, res } = await unary(profile, 'GetProfile', { customer });
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../..');
export const buildDir = process.env.OMNICX_BUILD_DIR || path.join(repoRoot, 'build');
const grpcProtoDir = '/usr/share/grpc-proto';

export const SERVICES = {
  ingestion: 'omnicx.v1.IngestionService',
  profile: 'omnicx.v1.ProfileService',
  journey: 'omnicx.v1.JourneyService',
  recommendation: 'omnicx.v1.RecommendationService',
};

const loadOptions = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

export function loadPackage(file, includeDirs) {
  const def = protoLoader.loadSync(file, { ...loadOptions, includeDirs });
  return grpc.loadPackageDefinition(def);
}

const healthPkg = loadPackage('grpc/health/v1/health.proto', [grpcProtoDir]);
const reflectionPkg = loadPackage('grpc/reflection/v1alpha/reflection.proto', [grpcProtoDir]);
export const omnicxPkg = loadPackage(
  ['omnicx/v1/ingestion.proto', 'omnicx/v1/profile.proto', 'omnicx/v1/journey.proto',
   'omnicx/v1/recommendation.proto'],
  [path.join(repoRoot, 'protos'), '/usr/include']);

// The gRPC service config every client of the project uses
// (docs/guarantees.md, "The service config"): grpc-js retries the methods it
// names on the codes it lists, with retry throttling.
const serviceConfig = fs.readFileSync(
  path.join(repoRoot, 'protos/omnicx/v1/service_config.json'), 'utf8');

// Ports handed out by this process: the OS may offer a just-closed port
// again, and two services must never be given the same one.
const handedOut = new Set();

export async function freePort() {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(predicate, timeoutMs, stepMs = 100) {
  const start = Date.now();
  for (;;) {
    if (await predicate()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) return -1;
    await sleep(stepMs);
  }
}

// Every redis-server and service this process started, killed when it
// exits, so a suite that failed to start (or a test runner that stopped
// early) leaves nothing running.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });
function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exited(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

// redis-server with the suite's ACL users (helm/omnicx/files/redis-acl.conf,
// rendered by tools/redis-acl/render.sh): services connect as their own
// user, `cli` as the operator, and nobody anonymously.
export class Redis {
  // `extraArgs` follow the defaults, so they override them
  // (`['--appendfsync', 'always']` for strict durability).
  constructor(port, dir, extraArgs = []) {
    this.port = port; this.dir = dir; this.proc = null; this.extraArgs = extraArgs;
    this.keysDir = path.join(dir, 'keys');
  }
  passwordFile(user) {
    return path.join(this.keysDir, user === 'default' ? 'redis.pass' : `redis-${user}.pass`);
  }
  // redis-cli as the operator; returns stdout.
  cli(args) {
    return execFileSync('redis-cli', ['-p', String(this.port), ...args], {
      env: { ...process.env, REDISCLI_AUTH: fs.readFileSync(this.passwordFile('default'), 'utf8') },
    }).toString();
  }
  async start() {
    const aclFile = path.join(this.dir, 'users.acl');
    fs.writeFileSync(aclFile,
      execFileSync(path.join(repoRoot, 'tools/redis-acl/render.sh'), [this.keysDir]), { mode: 0o600 });
    this.proc = track(spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(this.port),
      '--dir', this.dir, '--aclfile', aclFile,
      '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', ...this.extraArgs],
      { stdio: 'ignore' }));
    const ok = await waitFor(() => new Promise((resolve) => {
      const s = net.connect(this.port, '127.0.0.1');
      s.on('connect', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 5000);
    if (ok < 0) throw new Error('redis-server did not start');
  }
  // SIGTERM (Redis saves nothing more: no RDB; the AOF is as fsynced), or
  // SIGKILL for a crash.
  async stop(signal = 'SIGTERM') {
    if (!this.proc) return;
    const done = exited(this.proc);
    this.proc.kill(signal);
    await done;
    this.proc = null;
  }
}

// The e2e suite's Redis: 'standalone' (one redis-server) or 'cluster' (a
// Redis Cluster of 3 primaries + 3 replicas), from OMNICX_E2E_REDIS.
export const redisMode = process.env.OMNICX_E2E_REDIS === 'cluster' ? 'cluster' : 'standalone';
export const clusterMode = redisMode === 'cluster';

// A local Redis Cluster with the suite's ACL users: 3 primaries and 3
// replicas (`replicas` 0 for none) on free ports (cluster bus ports too),
// created with `redis-cli --cluster create`. Replicas authenticate to their
// primary as `default`. The same interface as Redis (port, passwordFile,
// cli, start, stop), so tests written for one redis-server read and check
// keys unchanged; stop() and start() crash and restart every node (they
// rejoin from their nodes.conf). Also: seeds (the services' address list),
// nodes() (CLUSTER NODES, parsed), killNode/startNode for one node.
export class RedisCluster {
  constructor(dir, extraArgs = [], { primaries = 3, replicas = 1, nodeTimeoutMs = 2000 } = {}) {
    this.dir = dir; this.extraArgs = extraArgs; this.primaries = primaries;
    this.replicas = replicas; this.nodeTimeoutMs = nodeTimeoutMs;
    this.keysDir = path.join(dir, 'keys');
    this.ports = []; this.busPorts = []; this.procs = new Map(); this.created = false;
  }
  get port() { return this.ports[0]; }
  // The first node's process (null once every node is down): Suite.stop
  // reads the ACL log only while Redis runs.
  get proc() { return this.procs.size ? [...this.procs.values()][0] : null; }
  get seeds() { return this.ports.slice(0, this.primaries).map((p) => `127.0.0.1:${p}`).join(','); }
  passwordFile(user) {
    return path.join(this.keysDir, user === 'default' ? 'redis.pass' : `redis-${user}.pass`);
  }
  auth() { return fs.readFileSync(this.passwordFile('default'), 'utf8'); }
  // redis-cli as the operator on `port`, following redirections (-c).
  cliAt(port, args) {
    return execFileSync('redis-cli', ['-c', '-p', String(port), ...args],
      { env: { ...process.env, REDISCLI_AUTH: this.auth() } }).toString();
  }
  // As Redis.cli: keyed commands follow redirections; `--scan` scans every
  // primary; ACL LOG reads every running node.
  cli(args) {
    if (args.includes('--scan')) {
      return this.nodes().filter((n) => n.primary && this.procs.has(n.port))
        .map((n) => this.cliAt(n.port, args)).join('');
    }
    if (args[0] && args[0].toUpperCase() === 'ACL' && String(args[1]).toUpperCase() === 'LOG') {
      return [...this.procs.keys()].map((p) => this.cliAt(p, args)).join('');
    }
    const port = [...this.procs.keys()][0] ?? this.port;
    return this.cliAt(port, args);
  }
  // CLUSTER NODES as [{id, port, primary, primaryId, slots, failed}].
  nodes() {
    const port = [...this.procs.keys()][0];
    return this.cliAt(port, ['CLUSTER', 'NODES']).trim().split('\n').map((line) => {
      const f = line.trim().split(' ');
      const slots = f.slice(8).filter((r) => !r.startsWith('[')).reduce((n, r) => {
        const [a, b] = r.split('-').map(Number);
        return n + (b === undefined ? 1 : b - a + 1);
      }, 0);
      return { id: f[0], port: Number(f[1].split(':')[1].split('@')[0]), primary: f[2].includes('master'),
        primaryId: f[3], failed: f[2].includes('fail') && !f[2].includes('fail?'), slots };
    });
  }
  // The port of the primary serving `key`.
  primaryOf(key) {
    const slot = Number(this.cli(['CLUSTER', 'KEYSLOT', key]).trim());
    for (const line of this.cliAt([...this.procs.keys()][0], ['CLUSTER', 'NODES']).trim().split('\n')) {
      const f = line.trim().split(' ');
      if (!f[2].includes('master') || f[2].includes('fail')) continue;
      for (const r of f.slice(8)) {
        if (r.startsWith('[')) continue;
        const [a, b] = r.split('-').map(Number);
        if (slot >= a && slot <= (b ?? a)) return Number(f[1].split(':')[1].split('@')[0]);
      }
    }
    throw new Error(`no primary serves slot ${slot}`);
  }
  stateAt(port) {
    try {
      return /cluster_state:(\w+)/.exec(this.cliAt(port, ['CLUSTER', 'INFO']))[1];
    } catch { return 'down'; }
  }
  // redis-cli --cluster check: every node agrees on the slots, all covered.
  check() {
    try {
      execFileSync('redis-cli', ['--cluster', 'check', `127.0.0.1:${this.port}`],
        { env: { ...process.env, REDISCLI_AUTH: this.auth() }, stdio: 'ignore' });
      return true;
    } catch { return false; }
  }
  state() {
    try {
      return /cluster_state:(\w+)/.exec(this.cli(['CLUSTER', 'INFO']))[1];
    } catch { return 'down'; }
  }
  async startNode(i) {
    const port = this.ports[i];
    const d = path.join(this.dir, `node-${port}`);
    fs.mkdirSync(d, { recursive: true });
    // masterauth in a config file (mode 0600), not on the command line.
    fs.writeFileSync(path.join(d, 'redis.conf'), [
      'bind 127.0.0.1', `port ${port}`, `cluster-port ${this.busPorts[i]}`, `dir ${d}`,
      'cluster-enabled yes', 'cluster-config-file nodes.conf', `cluster-node-timeout ${this.nodeTimeoutMs}`,
      `aclfile ${this.aclFile}`, 'masteruser default', `masterauth ${this.auth()}`,
      'appendonly yes', 'appendfsync everysec', 'save ""', 'repl-diskless-sync-delay 0', ''].join('\n'), { mode: 0o600 });
    const proc = track(spawn('redis-server', [path.join(d, 'redis.conf'), ...this.extraArgs], { stdio: 'ignore' }));
    this.procs.set(port, proc);
    const ok = await waitFor(() => new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    }), 5000);
    if (ok < 0) throw new Error(`cluster node ${port} did not start`);
  }
  async killNode(port, signal = 'SIGKILL') {
    const proc = this.procs.get(port);
    if (!proc) return;
    const done = exited(proc);
    proc.kill(signal);
    await done;
    this.procs.delete(port);
  }
  async start() {
    const n = this.primaries * (1 + this.replicas);
    if (!this.ports.length) {
      for (let i = 0; i < n; i++) { this.ports.push(await freePort()); this.busPorts.push(await freePort()); }
      this.aclFile = path.join(this.dir, 'users.acl');
      fs.writeFileSync(this.aclFile,
        execFileSync(path.join(repoRoot, 'tools/redis-acl/render.sh'), [this.keysDir]), { mode: 0o600 });
    }
    for (let i = 0; i < n; i++) if (!this.procs.has(this.ports[i])) await this.startNode(i);
    if (!this.created) {
      await new Promise((resolve, reject) => {
        const p = spawn('redis-cli', ['--cluster', 'create', ...this.ports.map((q) => `127.0.0.1:${q}`),
          '--cluster-replicas', String(this.replicas), '--cluster-yes'],
        { env: { ...process.env, REDISCLI_AUTH: this.auth() }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d) => { out += d; });
        p.stderr.on('data', (d) => { out += d; });
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create:\n${out}`))));
      });
      this.created = true;
    }
    // Every node agrees on the slots (`--cluster check`), and every replica
    // is in sync: earlier, a write may land on a node that is about to be
    // told otherwise.
    const ok = await waitFor(() => this.settledLayout(), 20000, 200);
    if (ok < 0) throw new Error(`the Redis Cluster did not reach cluster_state:ok:\n${this.cli(['CLUSTER', 'NODES'])}`);
  }
  // Every node ok, agreeing on the slots, each node's view holding the
  // layout (so many primaries and replicas), every replica in sync.
  settledLayout() {
    if (!this.ports.every((p) => this.stateAt(p) === 'ok') || !this.check()) return false;
    for (const p of this.ports) {
      const lines = this.cliAt(p, ['CLUSTER', 'NODES']).trim().split('\n');
      if (lines.filter((l) => / (myself,)?slave /.test(l)).length !== this.primaries * this.replicas) return false;
    }
    return this.nodes().every((x) => x.primary || this.replicaInSync(x.port));
  }
  replicaInSync(port) {
    try { return /master_link_status:up/.test(this.cliAt(port, ['INFO', 'replication'])); } catch { return false; }
  }
  // Every node: SIGTERM, or SIGKILL for a crash of the whole cluster.
  async stop(signal = 'SIGTERM') {
    for (const port of [...this.procs.keys()]) await this.killNode(port, signal);
  }
}

export class Service {
  constructor(name, env) { this.name = name; this.env = env; this.proc = null; this.log = ''; }
  get address() { return this.env.OMNICX_GRPC_ADDRESS; }
  get metricsPort() { return Number(this.env.OMNICX_METRICS_ADDRESS.split(':')[1]); }
  // The HTTP tracking API's port (ingestion only; docs/http-api.md).
  get httpPort() { return Number(this.env.OMNICX_HTTP_ADDRESS.split(':')[1]); }
  // Starts the process (again, on the same ports, after a terminate).
  start() {
    const bin = path.join(buildDir, 'services', this.name, `omnicx-${this.name}`);
    this.proc = track(spawn(bin, [], { env: { ...process.env, ...this.env }, stdio: ['ignore', 'ignore', 'pipe'] }));
    this.proc.stderr.on('data', (d) => { this.log += d.toString(); });
    this.exit = exited(this.proc);
  }
  async terminate(signal = 'SIGTERM') {
    if (!this.proc) return null;
    this.proc.kill(signal);
    const code = await this.exit;
    this.proc = null;
    return code;
  }
}

// Provisions the API keys of `tenant` into `dir` (tools/api-keys/provision.sh):
// <role>.key for app (trusted_identities) agent service analyst admin,
// write.key (an untrusted app key), internal-<service>.key and the hashes
// in api-keys.yaml.
export function provisionKeys(dir, tenant = 'default') {
  execFileSync(path.join(repoRoot, 'tools/api-keys/provision.sh'), [dir, tenant]);
}

// A grpc-js interceptor adding `authorization: Bearer <key>` to every call.
// (Call credentials are not sent on plaintext channels; metadata is.)
export function bearer(key) {
  return (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${key}`);
      next(metadata, listener);
    },
  });
}

// A whole suite: redis-server plus the named services on free ports.
// `otherTenants`: tenants whose keys are provisioned too (keys-<tenant>/) and
// listed in the same keys file (named `<tenant>-<name>`), so their
// credentials are known to every service — which serves only its own
// tenant (`default`).
export class Suite {
  // `redisArgs`: extra redis-server arguments (see Redis). `redis`:
  // 'standalone' or 'cluster' (a RedisCluster; the services get its seeds
  // and redis.cluster true); default from OMNICX_E2E_REDIS.
  constructor(names = Object.keys(SERVICES), { otherTenants = [], redisArgs = [], redis = redisMode } = {}) {
    this.names = names; this.otherTenants = otherTenants; this.redisArgs = redisArgs;
    this.redisMode = redis;
    this.services = {};
  }
  keysDir(tenant = 'default') { return path.join(this.dir, `keys-${tenant}`); }
  // The key of `role` (app agent service analyst admin write) of `tenant`.
  key(role, tenant = 'default') {
    return fs.readFileSync(path.join(this.keysDir(tenant), `${role}.key`), 'utf8').trim();
  }
  // A client of service `name` sending the key of `role` (none if null).
  // `retries`: see client().
  client(name, role, tenant = 'default', { retries = true } = {}) {
    const options = role ? { interceptors: [bearer(this.key(role, tenant))] } : {};
    return client(SERVICES[name], this.services[name].address, options, { retries });
  }
  // A client sending `authorization: Bearer <key>` verbatim.
  clientWithKey(name, key) {
    return client(SERVICES[name], this.services[name].address, { interceptors: [bearer(key)] });
  }
  async start(extraEnv = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omnicx-e2e-'));
    this.redis = this.redisMode === 'cluster'
      ? new RedisCluster(this.dir, this.redisArgs)
      : new Redis(await freePort(), this.dir, this.redisArgs);
    await this.redis.start();
    const redisEnv = this.redisMode === 'cluster'
      ? { OMNICX_REDIS_ADDRESS: this.redis.seeds, OMNICX_REDIS_CLUSTER: 'true' }
      : { OMNICX_REDIS_ADDRESS: `127.0.0.1:${this.redis.port}` };
    const keyEntries = [];
    for (const tenant of ['default', ...this.otherTenants]) {
      provisionKeys(this.keysDir(tenant), tenant);
      const yaml = fs.readFileSync(path.join(this.keysDir(tenant), 'api-keys.yaml'), 'utf8');
      let entries = yaml.slice(yaml.indexOf('keys:\n') + 'keys:\n'.length);
      // Names are unique within a keys file: other tenants' keys are
      // `<tenant>-<name>` (their internal keys serve no process here).
      if (tenant !== 'default') entries = entries.replace(/^( {2}- name: )/gm, `$1${tenant}-`);
      keyEntries.push(entries);
    }
    this.apiKeysFile = path.join(this.dir, 'api-keys.yaml');
    fs.writeFileSync(this.apiKeysFile, `keys:\n${keyEntries.join('')}`, { mode: 0o600 });
    // Every service gets a port, so an absent peer is a closed port here and
    // never a suite that `./omnicx up` may be running on the default ports.
    const ports = {};
    for (const n of Object.keys(SERVICES)) {
      ports[n] = { grpc: await freePort(), metrics: await freePort(), http: await freePort() };
    }
    // Every service gets an environment; `names` are started, the others
    // may be by startService.
    for (const n of Object.keys(SERVICES)) {
      const env = {
        OMNICX_GRPC_ADDRESS: `127.0.0.1:${ports[n].grpc}`,
        OMNICX_METRICS_ADDRESS: `127.0.0.1:${ports[n].metrics}`,
        ...redisEnv,
        OMNICX_REDIS_USER: n,
        OMNICX_REDIS_PASSWORD_FILE: this.redis.passwordFile(n),
        OMNICX_HEALTH_CHECK_INTERVAL: '200ms',
        OMNICX_LOG_LEVEL: 'warn',
        // Off by default in the services; the foundation test lists them.
        OMNICX_REFLECTION: 'true',
        OMNICX_IDENTITY_SECRET: 'e2e-identity-secret-0123456789',
        OMNICX_JOURNEY_ADDRESS: `127.0.0.1:${ports.journey.grpc}`,
        OMNICX_RECOMMENDATION_ADDRESS: `127.0.0.1:${ports.recommendation.grpc}`,
        OMNICX_AUTH_API_KEYS_FILE: this.apiKeysFile,
        // The tracking API (ingestion): the dev write key of `default`.
        OMNICX_HTTP_ADDRESS: `127.0.0.1:${ports[n].http}`,
        OMNICX_WRITE_KEYS_FILE: path.join(this.keysDir(), 'write-keys.yaml'),
        ...(n === 'profile'
          ? { OMNICX_AUTH_CREDENTIAL_FILE: path.join(this.keysDir(), `internal-${n}.key`) } : {}),
        ...extraEnv,
      };
      this.services[n] = new Service(n, env);
    }
    for (const n of this.names) this.services[n].start();
    for (const n of this.names) await this.serving(n);
  }
  async serving(name) {
    const s = this.services[name];
    const ms = await waitFor(async () => (await healthCheck(s.address, '')) === 'SERVING', 15000);
    if (ms < 0) throw new Error(`${name} did not become SERVING:\n${s.log}`);
  }
  // Starts a service that is not running (a stopped one, or one of the
  // suite's own), on its ports, and waits until it is SERVING.
  async startService(name) {
    this.services[name].start();
    await this.serving(name);
  }
  async stop() {
    // Every command a service sent must have been within its ACL user's
    // rules: a refusal is in Redis's ACL LOG even when the service coped.
    let denied = '';
    if (this.redis && this.redis.proc) {
      try { denied = this.redis.cli(['ACL', 'LOG']).trim(); } catch { /* Redis down */ }
    }
    for (const s of Object.values(this.services)) await s.terminate('SIGKILL');
    if (this.redis) await this.redis.stop();
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    if (denied) throw new Error(`Redis refused commands under the ACL users:\n${denied}`);
  }
}

export function healthCheck(address, service, timeoutMs = 500) {
  const client = new healthPkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    client.Check({ service }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      resolve(err ? `ERROR ${grpc.status[err.code]}` : res.status);
    });
  });
}

export function listServices(address) {
  const client = new reflectionPkg.grpc.reflection.v1alpha.ServerReflection(
    address, grpc.credentials.createInsecure());
  return new Promise((resolve, reject) => {
    const call = client.ServerReflectionInfo({ deadline: Date.now() + 3000 });
    call.on('data', (res) => {
      resolve(res.list_services_response.service.map((s) => s.name));
      call.end();
      client.close();
    });
    call.on('error', reject);
    call.write({ list_services: '' });
  });
}

export function httpGet(port, urlPath) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    }).on('error', reject);
  });
}

// A client with the service config as its channel's default, like every
// client the project ships. `retries: false` keeps the config but turns
// retries off: for a test that measures the server's own answer to a single
// call (how fast it refuses during an outage or overload), which retries
// would hide behind their backoff.
export function client(serviceName, address, options = {}, { retries = true } = {}) {
  const Ctor = serviceName.split('.').reduce((o, k) => o[k], omnicxPkg);
  return new Ctor(address, grpc.credentials.createInsecure(), {
    'grpc.service_config': serviceConfig,
    'grpc.enable_retries': retries ? 1 : 0,
    ...options,
  });
}

export function unary(c, method, request, timeoutMs = 5000) {
  return new Promise((resolve) => {
    c[method](request, { deadline: Date.now() + timeoutMs }, (err, res) => resolve({ err, res }));
  });
}

export { grpc };
