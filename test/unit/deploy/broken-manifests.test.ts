// The validation must fail on broken manifests: a copy of deploy/k8s is broken on purpose, once
// with three faults together (a misspelled field, a mismatched selector, an unknown environment
// variable) and then one fault at a time for every lint rule, and each fault must be reported
// with its rule and object. The untouched copy must report nothing (so each finding is the fault's).
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { lintManifests } from '../../helpers/manifest-lint.js';
import { DEPLOY_K8S_DIR, renderKustomization, validateSchemas, type Problem } from '../../helpers/manifests.js';
import { tempDir } from '../../helpers/processes.js';

interface Edit {
  file: string;
  from: string;
  to: string;
}

/** A fresh copy of deploy/k8s with `edits` applied; each `from` must occur in its file. */
function brokenCopy(edits: readonly Edit[]): string {
  const root = join(tempDir('conveyor-k8s-'), 'k8s');
  cpSync(DEPLOY_K8S_DIR, root, { recursive: true });
  for (const { file, from, to } of edits) {
    const path = join(root, file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}: update this test`);
    writeFileSync(path, text.replace(from, to));
  }
  return root;
}

async function validate(dir: string, options: { schemas: boolean }): Promise<Problem[]> {
  const objects = renderKustomization(dir);
  return [...(options.schemas ? await validateSchemas(objects) : []), ...lintManifests(objects)];
}

const LABEL_NAME = "            - name: CONVEYOR_BROKER_NAME\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.labels['conveyor/broker-group']\n";
const LABEL_ID = "            - name: CONVEYOR_BROKER_ID\n              valueFrom:\n                fieldRef:\n                  fieldPath: metadata.labels['apps.kubernetes.io/pod-index']\n";
const summary = (problems: readonly Problem[]): Array<[string, string]> => problems.map((p) => [p.rule, p.object]);

test('an untouched copy of the manifests passes', async () => {
  expect(await validate(brokenCopy([]), { schemas: true })).toEqual([]);
});

test('a copy with a misspelled field, a mismatched selector and an unknown variable fails on each', async () => {
  const root = brokenCopy([
    { file: 'base/broker-a.yaml', from: '          readinessProbe:', to: '          readinesProbe:' },
    { file: 'base/broker-b.yaml', from: '  selector:\n    matchLabels:\n      app.kubernetes.io/name: conveyor\n      app.kubernetes.io/component: broker\n      conveyor/broker-group: broker-b', to: '  selector:\n    matchLabels:\n      app.kubernetes.io/name: conveyor\n      app.kubernetes.io/component: broker\n      conveyor/broker-group: broker-c' },
    { file: 'base/broker-config.yaml', from: '  CONVEYOR_FLUSH_MODE: async', to: '  CONVEYOR_FLUSH_MODE: async\n  CONVEYOR_FLUSH_INTERVAL: "200"' },
  ]);
  const problems = await validate(root, { schemas: true });
  expect(problems).toContainEqual(expect.objectContaining({ rule: 'schema', object: 'StatefulSet/broker-a', message: expect.stringMatching(/spec\.template\.spec\.containers\[0\]\.readinesProbe.*'readinesProbe' does not exist/) }));
  expect(problems).toContainEqual(expect.objectContaining({ rule: 'selector-matches-template', object: 'StatefulSet/broker-b' }));
  for (const group of ['broker-a', 'broker-b']) {
    expect(problems).toContainEqual(expect.objectContaining({ rule: 'env-setting', object: `StatefulSet/${group}`, message: expect.stringContaining('CONVEYOR_FLUSH_INTERVAL is not a setting') }));
  }
});

describe('the schema check reports', () => {
  test.each<[string, Edit, RegExp]>([
    ['a misspelled top-level field', { file: 'base/nameserver.yaml', from: '  serviceName: conveyor-nameserver', to: '  servicename: conveyor-nameserver' }, /servicename.*does not exist/],
    ['a wrong type', { file: 'base/broker-a.yaml', from: '  replicas: 2', to: '  replicas: two' }, /replicas/],
    ['a value outside an enum', { file: 'base/broker-a.yaml', from: 'podManagementPolicy: Parallel', to: 'podManagementPolicy: Sometimes' }, /podManagementPolicy/],
    ['a missing required field', { file: 'base/broker-a.yaml', from: '  serviceName: conveyor-broker\n', to: '' }, /serviceName/],
    ['an unknown kind', { file: 'base/broker-service.yaml', from: 'kind: Service', to: 'kind: Servise' }, /Servise/],
  ])('%s', async (_what, edit, message) => {
    const problems = await validate(brokenCopy([edit]), { schemas: true });
    expect(problems.filter((p) => p.rule === 'schema').map((p) => p.message)).toContainEqual(expect.stringMatching(message));
  });
});

describe('the lint reports', () => {
  const sts = (name: string): string => `StatefulSet/${name}`;
  test.each<[string, Edit[], string, string]>([
    ['a name that is not a DNS label', [{ file: 'base/broker-service.yaml', from: 'name: conveyor-broker', to: 'name: Conveyor_Broker' }], 'dns-name', 'Service/Conveyor_Broker'],
    ['an object outside the created namespace', [{ file: 'base/kustomization.yaml', from: 'namespace: conveyor', to: 'namespace: elsewhere' }], 'namespace', 'Service/conveyor-broker'],
    ['a serviceName naming no Service', [{ file: 'base/broker-a.yaml', from: 'serviceName: conveyor-broker', to: 'serviceName: brokers' }], 'service-name-headless', sts('broker-a')],
    ['a serviceName naming a Service that is not headless', [{ file: 'base/broker-service.yaml', from: 'clusterIP: None', to: 'clusterIP: ""' }], 'service-name-headless', sts('broker-a')],
    ['a Service selecting no pods', [{ file: 'base/nameserver.yaml', from: '  selector:\n    app.kubernetes.io/name: conveyor\n    app.kubernetes.io/component: nameserver', to: '  selector:\n    app.kubernetes.io/name: conveyor\n    app.kubernetes.io/component: name-server' }], 'service-selects-pods', 'Service/conveyor-nameserver'],
    ['a PDB selecting no workload', [{ file: 'base/broker-b.yaml', from: 'maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: conveyor\n      app.kubernetes.io/component: broker\n      conveyor/broker-group: broker-b', to: 'maxUnavailable: 1\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: conveyor\n      app.kubernetes.io/component: broker\n      conveyor/broker-group: broker-x' }], 'pdb-selects-workload', 'PodDisruptionBudget/broker-b'],
    ['a group whose budget lets both pods go', [{ file: 'base/broker-a.yaml', from: 'spec:\n  maxUnavailable: 1', to: 'spec:\n  maxUnavailable: 2' }], 'pdb-covers-workload', sts('broker-a')],
    ['a group whose pods may share a node', [{ file: 'base/broker-a.yaml', from: 'topologyKey: kubernetes.io/hostname', to: 'topologyKey: topology.kubernetes.io/zone-typo' }], 'anti-affinity', sts('broker-a')],
    ['a container without limits', [{ file: 'base/nameserver.yaml', from: '            limits:\n              cpu: "1"\n              memory: 256Mi\n', to: '' }], 'resources', sts('nameserver')],
    ['a probe on a port the container lacks', [{ file: 'base/broker-a.yaml', from: '              path: /readyz\n              port: http', to: '              path: /readyz\n              port: htp' }], 'probe-port', sts('broker-a')],
    ['a liveness probe on the readiness endpoint', [{ file: 'base/nameserver.yaml', from: 'path: /healthz', to: 'path: /readyz' }], 'probe-endpoints', sts('nameserver')],
    ['a grace period shorter than preStop + clean shutdown', [{ file: 'base/broker-b.yaml', from: 'terminationGracePeriodSeconds: 30', to: 'terminationGracePeriodSeconds: 10' }], 'grace-period', sts('broker-b')],
    ['a container that runs no Conveyor process', [{ file: 'base/nameserver.yaml', from: 'args: ["nameserver"]', to: 'args: ["name-server"]' }], 'process', sts('nameserver')],
    ['a reference to an undefined variable', [{ file: 'base/broker-a.yaml', from: '$(POD_NAMESPACE).svc', to: '$(NAMESPACE).svc' }], 'env-reference', sts('broker-a')],
    ['envFrom naming a missing ConfigMap', [{ file: 'base/broker-b.yaml', from: 'name: conveyor-broker\n', to: 'name: conveyor-brokers\n' }], 'env-reference', sts('broker-b')],
    ['a variable that is neither a setting nor used', [{ file: 'base/broker-a.yaml', from: '          env:\n', to: '          env:\n            - name: BROKER_ROLE\n              value: master\n' }], 'env-setting', sts('broker-a')],
    ['a broker setting given to the nameserver', [{ file: 'base/nameserver.yaml', from: '  CONVEYOR_LOG_LEVEL: info', to: '  CONVEYOR_LOG_LEVEL: info\n  CONVEYOR_DATA_DIR: /data' }], 'env-setting', sts('nameserver')],
    ['a setting with an invalid value', [{ file: 'base/broker-config.yaml', from: 'CONVEYOR_FLUSH_MODE: async', to: 'CONVEYOR_FLUSH_MODE: fast' }], 'env-value', sts('broker-b')],
    ['a required setting left out', [{ file: 'base/broker-a.yaml', from: LABEL_NAME, to: '' }], 'env-value', sts('broker-a')],
    ['a container port that disagrees with the setting', [{ file: 'base/broker-config.yaml', from: 'CONVEYOR_HTTP_PORT: "10921"', to: 'CONVEYOR_HTTP_PORT: "10922"' }], 'port-setting', sts('broker-a')],
    ['a broker id not taken from the ordinal', [{ file: 'base/broker-b.yaml', from: LABEL_ID, to: '            - name: CONVEYOR_BROKER_ID\n              value: "0"\n' }], 'broker-identity', sts('broker-b')],
    ['a broker registering its pod IP', [{ file: 'base/broker-a.yaml', from: '              value: $(POD_NAME).conveyor-broker.$(POD_NAMESPACE).svc.cluster.local', to: '              valueFrom:\n                fieldRef:\n                  fieldPath: status.podIP' }], 'advertised-host', sts('broker-a')],
    ['two StatefulSets claiming one broker group', [{ file: 'base/broker-b.yaml', from: LABEL_NAME, to: '            - name: CONVEYOR_BROKER_NAME\n              value: broker-a\n' }], 'broker-identity', sts('broker-b')],
    ['a data directory off the volume claim', [{ file: 'base/broker-a.yaml', from: 'mountPath: /var/lib/conveyor', to: 'mountPath: /var/lib/conveyor-data' }], 'data-dir-volume', sts('broker-a')],
    ['a nameserver missing from the brokers’ list', [{ file: 'base/broker-config.yaml', from: 'CONVEYOR_NAMESERVERS: conveyor-nameserver:9876', to: 'CONVEYOR_NAMESERVERS: nameserver-0.conveyor-nameserver:9876' }], 'nameservers-listed', sts('broker-a')],
    ['the nameserver Service at another port than the nameservers’ gRPC port', [{ file: 'base/broker-config.yaml', from: 'conveyor-nameserver:9876', to: 'conveyor-nameserver:9877' }], 'nameservers-listed', sts('broker-b')],
    ['a headless Service that is not the nameservers’', [{ file: 'base/broker-config.yaml', from: 'conveyor-nameserver:9876', to: 'conveyor-broker:9876' }], 'nameservers-listed', sts('broker-a')],
  ])('%s', async (_what, edits, rule, object) => {
    const problems = await validate(brokenCopy(edits), { schemas: false });
    expect(summary(problems)).toContainEqual([rule, object]);
  });

});
