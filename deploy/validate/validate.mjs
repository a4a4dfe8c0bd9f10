// Validates rendered Kubernetes manifests: every document against the
// Kubernetes schemas (kubernetes-models, @kubernetes-models/cert-manager),
// every workload against the project's hardening rules, and each render as a
// whole against the security model (secrets only as read-only files, TLS,
// one Redis ACL user per service, what the NetworkPolicies let through).
// Usage:
//   node validate.mjs NAME[+EXPECT...] FILE.yaml [NAME FILE.yaml ...]
// EXPECT: "namespace" (a restricted Namespace is rendered), "certificates"
// (a cert-manager Certificate per service). Prints one line per failed check
// and a summary; exits 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const modulesDir = path.resolve(process.env.OMNICX_VALIDATE_MODULES || 'node_modules');
const requireFrom = createRequire(path.join(modulesDir, 'noop.js'));
const yaml = requireFrom('js-yaml');
const modelsRoots = ['kubernetes-models', '@kubernetes-models/cert-manager']
  .map((pkg) => path.dirname(requireFrom.resolve(`${pkg}/package.json`)));

let passed = 0;
let failed = 0;
const fail = (where, why) => { failed++; console.log(`FAIL ${where}: ${why}`); };
const ok = () => { passed++; };
const check = (cond, where, why) => (cond ? ok() : fail(where, why));

async function modelFor(apiVersion, kind) {
  const group = apiVersion.includes('/') ? apiVersion : `v1`;
  for (const root of modelsRoots) {
    const file = path.join(root, group, `${kind}.js`);
    if (!fs.existsSync(file)) continue;
    const mod = await import(file);
    return mod[kind] || mod.default;
  }
  return null;
}

function checkWorkload(where, spec) {
  const pod = spec.template.spec;
  const podSc = pod.securityContext || {};
  for (const c of pod.containers) {
    const w = `${where} container ${c.name}`;
    const sc = c.securityContext || {};
    check(c.startupProbe, w, 'has no startupProbe');
    check(c.livenessProbe, w, 'has no livenessProbe');
    check(c.readinessProbe, w, 'has no readinessProbe');
    const r = c.resources || {};
    check(r.requests && r.requests.cpu && r.requests.memory, w, 'needs cpu and memory requests');
    check(r.limits && r.limits.cpu && r.limits.memory, w, 'needs cpu and memory limits');
    check(sc.runAsNonRoot === true || podSc.runAsNonRoot === true, w, 'must runAsNonRoot');
    check(sc.readOnlyRootFilesystem === true, w, 'must have readOnlyRootFilesystem');
    check(sc.allowPrivilegeEscalation === false, w, 'must set allowPrivilegeEscalation false');
    check(((sc.capabilities || {}).drop || []).includes('ALL'), w, 'must drop ALL capabilities');
    const seccomp = (sc.seccompProfile || podSc.seccompProfile || {}).type;
    check(seccomp === 'RuntimeDefault', w, 'must use seccomp RuntimeDefault');
    if (isService(c)) {
      // Liveness never depends on Redis; readiness does.
      check(c.livenessProbe && c.livenessProbe.grpc && c.livenessProbe.grpc.service === 'liveness',
        w, 'liveness must be the gRPC "liveness" service');
      check(c.readinessProbe && c.readinessProbe.grpc && !c.readinessProbe.grpc.service,
        w, 'readiness must be the overall gRPC health ("")');
      check(c.lifecycle && c.lifecycle.preStop, w, 'needs a preStop delay');
    }
  }
  for (const c of pod.initContainers || []) {
    const w = `${where} init container ${c.name}`;
    const sc = c.securityContext || {};
    const r = c.resources || {};
    check(r.limits && r.limits.cpu && r.limits.memory, w, 'needs cpu and memory limits');
    check(sc.readOnlyRootFilesystem === true, w, 'must have readOnlyRootFilesystem');
    check(sc.allowPrivilegeEscalation === false, w, 'must set allowPrivilegeEscalation false');
    check(((sc.capabilities || {}).drop || []).includes('ALL'), w, 'must drop ALL capabilities');
  }
  checkSecretFiles(where, pod);
}

const isService = (c) => Boolean(c.command && String(c.command[0]).startsWith('/opt/omnicx/bin/'));
const envOf = (c) => Object.fromEntries((c.env || []).map((e) => [e.name, e.value]));

// Secrets reach containers only as files: no env var or envFrom from a
// Secret; every Secret-backed volume has a mode without write or world bits
// (at most 0440) and is mounted read-only as a directory (a subPath mount
// would not see a rotated Secret).
function secretVolumes(pod) {
  const out = new Map();
  for (const v of pod.volumes || []) {
    if (v.secret) out.set(v.name, { mode: v.secret.defaultMode, items: v.secret.items || [] });
    else if (v.projected && (v.projected.sources || []).some((src) => src.secret)) {
      const items = v.projected.sources.flatMap((src) => (src.secret && src.secret.items) || []);
      out.set(v.name, { mode: v.projected.defaultMode, items });
    }
  }
  return out;
}

function checkSecretFiles(where, pod) {
  const secrets = secretVolumes(pod);
  for (const v of pod.volumes || []) {
    if (secrets.has(v.name) && v.projected) {
      check(v.projected.sources.every((src) => src.secret), `${where} volume ${v.name}`, 'mixes Secrets with other sources');
    }
  }
  for (const [name, v] of secrets) {
    const modes = [v.mode, ...v.items.map((i) => i.mode)].filter((m) => m !== undefined);
    check(v.mode !== undefined, `${where} volume ${name}`, 'Secret volume needs an explicit defaultMode');
    check(modes.every((m) => (m & ~0o440) === 0), `${where} volume ${name}`,
      `Secret file mode must be at most 0440, got ${modes.map((m) => m.toString(8))}`);
  }
  for (const c of [...(pod.initContainers || []), ...pod.containers]) {
    const w = `${where} container ${c.name}`;
    for (const e of c.env || []) {
      check(!(e.valueFrom && e.valueFrom.secretKeyRef), w, `env ${e.name} comes from a Secret (mount it as a file)`);
    }
    for (const e of c.envFrom || []) check(!e.secretRef, w, 'envFrom a Secret (mount it as a file)');
    for (const m of c.volumeMounts || []) {
      if (!secrets.has(m.name)) continue;
      check(m.readOnly === true, w, `Secret volume ${m.name} must be mounted readOnly`);
      check(!m.subPath, w, `Secret volume ${m.name} must not use subPath (rotation)`);
    }
  }
}

// The file an OMNICX_*_FILE setting names lies in a Secret volume's mount.
function inSecretMount(pod, c, file) {
  const secrets = secretVolumes(pod);
  return (c.volumeMounts || []).some((m) => secrets.has(m.name) && file.startsWith(`${m.mountPath}/`)
    && secrets.get(m.name).items.some((i) => `${m.mountPath}/${i.path}` === file));
}

// Per service: its settings that must point at Secret files, and its calls.
const SERVICES = {
  ingestion: { calls: [], identity: false },
  profile: { calls: ['journey', 'recommendation'], identity: true },
  journey: { calls: [], identity: true },
  recommendation: { calls: [], identity: true },
};

function checkServiceSecurity(where, component, pod) {
  const c = pod.containers.find(isService);
  if (!c) return null;
  const env = envOf(c);
  const spec = SERVICES[component] || { calls: [], identity: false };
  const files = ['OMNICX_AUTH_API_KEYS_FILE', 'OMNICX_REDIS_PASSWORD_FILE',
    'OMNICX_TLS_CERT_FILE', 'OMNICX_TLS_KEY_FILE', 'OMNICX_TLS_CA_FILE'];
  if (spec.calls.length) files.push('OMNICX_AUTH_CREDENTIAL_FILE');
  if (spec.identity) files.push('OMNICX_IDENTITY_SECRET_FILE');
  if (env.OMNICX_AUTH_JWKS_FILE !== undefined) files.push('OMNICX_AUTH_JWKS_FILE');
  for (const f of files) {
    check(env[f], where, `${f} must be set`);
    if (env[f]) check(inSecretMount(pod, c, env[f]), where, `${f} (${env[f]}) must be a file of a Secret volume`);
  }
  for (const bare of ['OMNICX_REDIS_PASSWORD', 'OMNICX_IDENTITY_SECRET']) {
    check(!(bare in env) && !(c.env || []).some((e) => e.name === bare), where, `${bare} must not be an env var`);
  }
  check(env.OMNICX_REFLECTION === 'false', where, 'server reflection must be off (OMNICX_REFLECTION "false")');
  check(env.OMNICX_TLS_REQUIRE_CLIENT_CERT === 'true', where, 'must require client certificates (mTLS)');
  const user = env.OMNICX_REDIS_USER;
  check(user && user !== 'default', where, 'needs its own Redis ACL user (OMNICX_REDIS_USER)');
  // Kubelet gRPC probes cannot speak TLS: they use the plaintext health port.
  const health = Number(String(env.OMNICX_HEALTH_ADDRESS || '').split(':').pop());
  const grpc = Number(String(env.OMNICX_GRPC_ADDRESS || '').split(':').pop());
  for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
    const port = c[probe] && c[probe].grpc && c[probe].grpc.port;
    check(health && port === health && port !== grpc, where, `${probe} must use the plaintext health port`);
  }
  return user;
}

function checkRedis(where, pod) {
  const c = pod.containers.find((x) => x.name === 'redis');
  if (!c) return;
  const args = (c.args || []).map(String);
  const after = (flag) => (args.indexOf(flag) >= 0 ? args[args.indexOf(flag) + 1] : undefined);
  check(after('--aclfile'), where, 'Redis must load its ACL users from --aclfile');
  check(/^[0-9]+(kb|mb|gb)$/.test(after('--maxmemory') || ''), where, 'Redis needs --maxmemory');
  check(after('--maxmemory-policy') === 'noeviction', where, 'Redis needs --maxmemory-policy noeviction');
  check(!args.includes('--requirepass'), where, 'Redis must not use a shared --requirepass');
}

// --- NetworkPolicy evaluation --------------------------------------------
const NS = 'omnicx';
function selects(sel, labels) {
  if (!sel) return false;
  for (const [k, v] of Object.entries(sel.matchLabels || {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}
function peerMatches(peer, pod, policyNs) {
  if (peer.ipBlock) return false;
  const nsOk = peer.namespaceSelector ? selects(peer.namespaceSelector, pod.nsLabels) : pod.ns === policyNs;
  const podOk = peer.podSelector ? selects(peer.podSelector, pod.labels) : true;
  return nsOk && podOk;
}
function portMatches(ports, port, target) {
  if (!ports || ports.length === 0) return true;
  return ports.some((p) => (p.protocol || 'TCP') === 'TCP' && (p.port === undefined || p.port === port
    || (typeof p.port === 'string' && target.ports[p.port] === port)));
}
const types = (np) => np.spec.policyTypes || (np.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
function allowed(policies, src, dst, port) {
  const side = (type, pod, rulesKey, peerKey, other) => {
    if (pod.ns !== NS) return true; // only the release's namespace has our policies
    const apply = policies.filter((np) => types(np).includes(type) && selects(np.spec.podSelector, pod.labels));
    if (apply.length === 0) return true;
    return apply.some((np) => (np.spec[rulesKey] || []).some((rule) =>
      (!rule[peerKey] || rule[peerKey].length === 0 || rule[peerKey].some((peer) => peerMatches(peer, other, NS)))
      && portMatches(rule.ports, port, dst)));
  };
  return side('Egress', src, 'egress', 'to', dst) && side('Ingress', dst, 'ingress', 'from', src);
}

function checkNetworkPolicies(name, docs) {
  const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
  const pods = {};
  for (const d of docs) {
    if (d.kind !== 'Deployment' && d.kind !== 'StatefulSet') continue;
    const labels = d.spec.template.metadata.labels;
    const ports = {};
    for (const c of d.spec.template.spec.containers) {
      for (const p of c.ports || []) ports[p.name] = p.containerPort;
    }
    pods[labels['app.kubernetes.io/component']] = { ns: NS, nsLabels: { 'kubernetes.io/metadata.name': NS }, labels, ports };
  }
  const services = Object.keys(SERVICES).filter((s) => pods[s]);
  if (services.length === 0) return;
  const outside = (nsName, nsLabels, labels) => ({ ns: nsName, nsLabels: { 'kubernetes.io/metadata.name': nsName, ...nsLabels }, labels, ports: {} });
  const callers = {
    collector: outside('collectors', { 'omnicx.io/caller': 'collector' }, { 'omnicx.io/caller': 'collector' }),
    'agent console': outside('contact-center', { 'omnicx.io/caller': 'agent-console' }, { 'omnicx.io/caller': 'agent-console' }),
    'unlabelled pod': outside('other', {}, { app: 'other' }),
    'unlabelled pod of the release namespace': { ...outside(NS, {}, { app: 'other' }) },
    monitoring: outside('monitoring', {}, { app: 'prometheus' }),
  };
  const reach = { collector: ['ingestion'], 'agent console': ['profile'] };
  const expect = (ok, src, dst, port, what) => check(allowed(policies, src, pods[dst], port) === ok,
    `${name} NetworkPolicy`, `${what} ${dst}:${port} must be ${ok ? 'allowed' : 'denied'}`);
  for (const [who, src] of Object.entries(callers)) {
    for (const s of services) {
      expect((reach[who] || []).includes(s), src, s, pods[s].ports.grpc, `${who} ->`);
      expect(who === 'monitoring', src, s, pods[s].ports.metrics, `${who} ->`);
    }
    if (pods.redis) expect(false, src, 'redis', 6379, `${who} ->`);
  }
  for (const a of services) {
    for (const b of services) {
      if (a === b) continue;
      expect(SERVICES[a].calls.includes(b), pods[a], b, pods[b].ports.grpc, `${a} ->`);
    }
    if (pods.redis) expect(true, pods[a], 'redis', 6379, `${a} ->`);
  }
  for (const type of ['collectors', 'agent-consoles']) {
    check(policies.some((np) => (np.metadata.labels || {})['omnicx.io/caller-type'] === type),
      `${name} NetworkPolicy`, `no policy for caller type ${type}`);
  }
}

function checkRender(name, expects, docs) {
  const users = [];
  const tlsSecrets = {};
  for (const d of docs) {
    const where = `${name} ${d.kind}/${d.metadata.name}`;
    if (d.kind === 'Deployment') {
      const component = d.spec.template.metadata.labels['app.kubernetes.io/component'];
      const user = checkServiceSecurity(where, component, d.spec.template.spec);
      if (user) users.push(user);
      const tls = (d.spec.template.spec.volumes || []).find((v) => v.name === 'tls');
      if (tls && tls.secret) tlsSecrets[d.metadata.name] = tls.secret.secretName;
    }
    if (d.kind === 'StatefulSet') checkRedis(where, d.spec.template.spec);
    if (d.kind === 'Namespace') {
      const l = d.metadata.labels || {};
      for (const mode of ['enforce', 'audit', 'warn']) {
        check(l[`pod-security.kubernetes.io/${mode}`] === 'restricted', where, `needs pod-security.kubernetes.io/${mode}: restricted`);
      }
    }
  }
  check(users.length === 4 && new Set(users).size === users.length, name,
    `each service needs a distinct Redis user, got ${users.join(',')}`);
  if (expects.includes('namespace')) check(docs.some((d) => d.kind === 'Namespace'), name, 'renders no Namespace');
  if (expects.includes('certificates')) {
    const certs = docs.filter((d) => d.kind === 'Certificate' && d.apiVersion === 'cert-manager.io/v1');
    for (const [deployment, secret] of Object.entries(tlsSecrets)) {
      const cert = certs.find((x) => x.spec.secretName === secret);
      check(cert, name, `no Certificate writes ${deployment}'s TLS Secret ${secret}`);
      if (!cert) continue;
      const usages = cert.spec.usages || [];
      check(usages.includes('server auth') && usages.includes('client auth'), name, `Certificate ${cert.metadata.name} needs server and client auth`);
      check((cert.spec.dnsNames || []).includes(deployment), name, `Certificate ${cert.metadata.name} must name the Service ${deployment}`);
    }
    check(Object.keys(tlsSecrets).length === 4, name, 'every service needs a TLS Secret volume');
  }
  checkNetworkPolicies(name, docs);
}

const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const [name, ...expects] = args[i].split('+');
  const docs = yaml.loadAll(fs.readFileSync(args[i + 1], 'utf8')).filter(Boolean);
  check(docs.length > 0, name, 'rendered nothing');
  for (const doc of docs) {
    const where = `${name} ${doc.kind}/${doc.metadata && doc.metadata.name}`;
    const Model = await modelFor(doc.apiVersion, doc.kind);
    if (!Model) { fail(where, `no schema for ${doc.apiVersion} ${doc.kind}`); continue; }
    try {
      // kubectl kustomize wraps long base64 values; the API server accepts that.
      const copy = doc.kind === 'Secret' && doc.data
        ? { ...doc, data: Object.fromEntries(Object.entries(doc.data).map(([k, v]) => [k, String(v).replace(/\s+/g, '')])) }
        : doc;
      new Model(copy).validate();
      ok();
    } catch (e) {
      fail(where, `schema: ${e.message.split('\n').slice(0, 3).join(' ')}`);
    }
    if (doc.kind === 'Deployment' || doc.kind === 'StatefulSet') checkWorkload(where, doc.spec);
  }
  checkRender(name, expects, docs);
}
console.log(`manifests: ${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
