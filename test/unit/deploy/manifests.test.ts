// The Kubernetes manifests in deploy/k8s, checked offline: rendered (with our renderer, and with
// `kubectl kustomize` where kubectl is installed), validated against the API schemas, linted, and
// checked for what issue 7 asks of the production and dev setups.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { describe, expect, test } from 'vitest';
import YAML from 'yaml';
import { BROKER_NODE_FLAGS } from '../../../common/node-flags.js';
import { lintManifests } from '../../helpers/manifest-lint.js';
import {
  DEPLOY_K8S_DIR,
  renderKustomization,
  podEnvironment,
  renderWithKubectl,
  validateSchemas,
  type KubeObject,
} from '../../helpers/manifests.js';

const SETUPS = { production: DEPLOY_K8S_DIR, dev: join(DEPLOY_K8S_DIR, 'overlays', 'dev') } as const;
const HAS_KUBECTL = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

function byId(objects: readonly KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]));
}

function find<T>(objects: readonly KubeObject[], kind: string, name: string): KubeObject & T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`${kind}/${name} is not in the rendered manifests`);
  return found as KubeObject & T;
}

const brokerEnv = podEnvironment;

describe.each(Object.entries(SETUPS))('the %s setup', (_name, dir) => {
  const objects = renderKustomization(dir);

  test('renders to exactly what kubectl kustomize renders', { skip: !HAS_KUBECTL }, () => {
    const kubectl = renderWithKubectl(dir);
    expect(kubectl).toBeDefined();
    const ours = byId(objects);
    const theirs = byId(kubectl ?? []);
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [id, object] of ours) expect(object, id).toEqual(theirs.get(id));
  });

  test('passes the Kubernetes API schemas, unknown fields included', async () => {
    expect(await validateSchemas(objects)).toEqual([]);
  });

  test('passes the lint', () => {
    expect(lintManifests(objects)).toEqual([]);
  });

  test('puts every object in the conveyor namespace, which it creates', () => {
    expect(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual(['conveyor']);
    expect(new Set(objects.filter((o) => o.kind !== 'Namespace').map((o) => o.metadata.namespace))).toEqual(new Set(['conveyor']));
  });

  test('runs nameservers as a StatefulSet behind a headless Service', () => {
    const nameservers = find<StatefulSet>(objects, 'StatefulSet', 'nameserver');
    expect(nameservers.spec?.template.spec?.containers[0]?.args).toEqual(['nameserver']);
    expect(find<Service>(objects, 'Service', nameservers.spec?.serviceName ?? '').spec?.clusterIP).toBe('None');
  });

  test('gives every broker group a StatefulSet with a data volume claim and its own disruption budget', () => {
    for (const group of ['broker-a', 'broker-b']) {
      const set = find<StatefulSet>(objects, 'StatefulSet', group);
      expect(set.spec?.template.spec?.containers[0]?.args).toEqual(['broker']);
      expect(set.spec?.volumeClaimTemplates?.map((t) => t.metadata?.name)).toEqual(['data']);
      expect(find<PodDisruptionBudget>(objects, 'PodDisruptionBudget', group).spec?.maxUnavailable).toBe(1);
    }
  });

  test('derives a broker pod’s group, id and advertised DNS name from its identity', () => {
    const env = brokerEnv(objects, 'broker-b', 1);
    expect(env.CONVEYOR_BROKER_NAME).toBe('broker-b');
    expect(env.CONVEYOR_BROKER_ID).toBe('1');
    expect(env.CONVEYOR_ADVERTISED_HOST).toBe('broker-b-1.conveyor-broker.conveyor.svc.cluster.local');
    expect(env.CONVEYOR_DATA_DIR).toBe('/var/lib/conveyor');
  });

  test('runs every broker with the node flags the local launcher gives it (common/node-flags.ts)', () => {
    for (const group of ['broker-a', 'broker-b']) {
      const container = find<StatefulSet>(objects, 'StatefulSet', group).spec?.template.spec?.containers[0];
      expect(container?.command).toEqual(['node', ...BROKER_NODE_FLAGS, '/opt/conveyor/bin/conveyor.js']);
    }
  });
});

describe('the production setup', () => {
  const objects = renderKustomization(SETUPS.production);

  test('runs two nameservers and a master and a slave in each broker group, with sync replication', () => {
    const replicas = (name: string): number | undefined => find<StatefulSet>(objects, 'StatefulSet', name).spec?.replicas;
    expect([replicas('nameserver'), replicas('broker-a'), replicas('broker-b')]).toEqual([2, 2, 2]);
    expect(brokerEnv(objects, 'broker-a', 0).CONVEYOR_REPLICATION_MODE).toBe('sync');
  });

  test('never schedules two pods of one broker group on the same node', () => {
    const terms = find<StatefulSet>(objects, 'StatefulSet', 'broker-a').spec?.template.spec?.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    expect(terms).toEqual([{ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'conveyor/broker-group': 'broker-a' } } }]);
  });

  test('uses the release image tag', () => {
    const images = objects.flatMap((o) => (o as StatefulSet).spec?.template?.spec?.containers.map((c) => c.image) ?? []);
    expect(new Set(images)).toEqual(new Set(['conveyor:0.1.0']));
  });
});

describe('the dev setup', () => {
  const objects = renderKustomization(SETUPS.dev);

  test('runs one replica of everything, with async replication since there is no slave', () => {
    const sets = objects.filter((o) => o.kind === 'StatefulSet');
    expect(sets.map((s) => [s.metadata.name, (s as StatefulSet).spec?.replicas])).toEqual([
      ['nameserver', 1],
      ['broker-a', 1],
      ['broker-b', 1],
    ]);
    expect(brokerEnv(objects, 'broker-a', 0)).toMatchObject({ CONVEYOR_REPLICATION_MODE: 'async', CONVEYOR_NAMESERVERS: 'conveyor-nameserver:9876' });
  });

  test('asks for less than the production setup', () => {
    const production = renderKustomization(SETUPS.production);
    const memory = (set: readonly KubeObject[], name: string): string | undefined => find<StatefulSet>(set, 'StatefulSet', name).spec?.template.spec?.containers[0]?.resources?.limits?.memory;
    expect([memory(objects, 'broker-a'), memory(production, 'broker-a')]).toEqual(['512Mi', '2Gi']);
  });
});

test('every YAML file under deploy/k8s is part of a kustomization', () => {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.ya?ml$/.test(entry)) files.push(path);
    }
  };
  walk(DEPLOY_K8S_DIR);
  const used = new Set<string>();
  const visit = (dir: string): void => {
    const file = join(dir, 'kustomization.yaml');
    used.add(file);
    const k = YAML.parse(readFileSync(file, 'utf8')) as { resources?: string[] };
    for (const entry of k.resources ?? []) {
      const path = resolve(dir, entry);
      if (statSync(path).isDirectory()) visit(path);
      else used.add(path);
    }
  };
  visit(SETUPS.production);
  visit(SETUPS.dev);
  expect(files.filter((f) => !used.has(f)).map((f) => relative(DEPLOY_K8S_DIR, f))).toEqual([]);
});
