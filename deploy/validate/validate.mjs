// Validates rendered Kubernetes manifests: every document against the
// Kubernetes schemas (kubernetes-models), and every workload against the
// project's hardening rules. Usage:
//   node validate.mjs NAME FILE.yaml [NAME FILE.yaml ...]
// Prints one line per failed check and a summary; exits 1 on any failure.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const modulesDir = path.resolve(process.env.OMNICX_VALIDATE_MODULES || 'node_modules');
const requireFrom = createRequire(path.join(modulesDir, 'noop.js'));
const yaml = requireFrom('js-yaml');
const modelsRoot = path.dirname(requireFrom.resolve('kubernetes-models/package.json'));

let passed = 0;
let failed = 0;
const fail = (where, why) => { failed++; console.log(`FAIL ${where}: ${why}`); };
const ok = () => { passed++; };
const check = (cond, where, why) => (cond ? ok() : fail(where, why));

async function modelFor(apiVersion, kind) {
  const group = apiVersion.includes('/') ? apiVersion : `v1`;
  const file = path.join(modelsRoot, group === 'v1' ? 'v1' : group, `${kind}.js`);
  if (!fs.existsSync(file)) return null;
  const mod = await import(file);
  return mod[kind] || mod.default;
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
    if (c.command && String(c.command[0]).startsWith('/opt/omnicx/bin/')) {
      // Liveness never depends on Redis; readiness does.
      check(c.livenessProbe && c.livenessProbe.grpc && c.livenessProbe.grpc.service === 'liveness',
        w, 'liveness must be the gRPC "liveness" service');
      check(c.readinessProbe && c.readinessProbe.grpc && !c.readinessProbe.grpc.service,
        w, 'readiness must be the overall gRPC health ("")');
      check(c.lifecycle && c.lifecycle.preStop, w, 'needs a preStop delay');
    }
  }
}

const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const name = args[i];
  const docs = yaml.loadAll(fs.readFileSync(args[i + 1], 'utf8')).filter(Boolean);
  check(docs.length > 0, name, 'rendered nothing');
  for (const doc of docs) {
    const where = `${name} ${doc.kind}/${doc.metadata && doc.metadata.name}`;
    const Model = await modelFor(doc.apiVersion, doc.kind);
    if (!Model) { fail(where, `no schema for ${doc.apiVersion} ${doc.kind}`); continue; }
    try {
      new Model(doc).validate();
      ok();
    } catch (e) {
      fail(where, `schema: ${e.message.split('\n').slice(0, 3).join(' ')}`);
    }
    if (doc.kind === 'Deployment' || doc.kind === 'StatefulSet') checkWorkload(where, doc.spec);
  }
}
console.log(`manifests: ${passed} checks passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
