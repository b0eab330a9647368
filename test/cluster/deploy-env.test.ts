// Processes configured only through the environment the Kubernetes manifests give their pods.
// The production manifests are rendered, each pod's environment is computed as kubelet would
// (image ENV, ConfigMaps, downward API, $(VAR) expansion), and the process is started with that
// environment and the container's args alone. Only what differs between a pod and a process on
// this machine is substituted (docs/deploy.md, "How the manifests are checked"): the listen
// address and ports (every pod has its own network namespace; here they share loopback), the data
// directory (the pod's volume), and the nameserver names (cluster DNS) by their loopback address.
// Everything else — broker group, id, advertised DNS name, modes — comes from the manifests.
import * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHANNEL_OPTIONS, callUnary } from '../../common/grpc.js';
import { decodeRecords } from '../../common/record.js';
import { BrokerService, NameServerService, conveyor } from '../../proto/index.js';
import { DEPLOY_K8S_DIR, podEnvironment, renderKustomization } from '../helpers/manifests.js';
import { freePorts, spawnConveyor, tempDir, waitReady, type RunningProcess } from '../helpers/processes.js';

const CALL_DEADLINE_MS = 10_000;
const dir = tempDir('conveyor-deploy-env-');
const objects = renderKustomization(DEPLOY_K8S_DIR);
const clients: grpc.Client[] = [];

interface Pod {
  name: string;
  args: string[];
  env: Record<string, string>;
  port: number;
  httpPort: number;
  process: RunningProcess;
}

/** The manifest's args for the StatefulSet's container (e.g. ['broker']). */
function argsOf(set: string): string[] {
  const found = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === set) as StatefulSet | undefined;
  return found?.spec?.template.spec?.containers[0]?.args ?? [];
}

function client(port: number): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  clients.push(c);
  return c;
}

async function startPod(set: string, ordinal: number, substitute: (ports: { port: number; httpPort: number }) => Record<string, string>): Promise<Pod> {
  const [port, httpPort] = (await freePorts(2)) as [number, number];
  const env = { ...podEnvironment(objects, set, ordinal), ...substitute({ port, httpPort }) };
  const name = `${set}-${ordinal}`;
  const process = spawnConveyor({ name, logDir: dir, args: argsOf(set), env });
  return { name, args: argsOf(set), env, port, httpPort, process };
}

const loopback = ({ port, httpPort }: { port: number; httpPort: number }): Record<string, string> => ({
  CONVEYOR_HOST: '127.0.0.1',
  CONVEYOR_PORT: String(port),
  CONVEYOR_HTTP_PORT: String(httpPort),
});

let nameserverPod: Pod;
let master: Pod;
let slave: Pod;
let nameserver: grpc.Client;

beforeAll(async () => {
  // Nothing from this machine's environment may configure the processes: only the manifests do.
  expect(Object.keys(process.env).filter((key) => key.startsWith('CONVEYOR_'))).toEqual([]);
  nameserverPod = await startPod('nameserver', 0, loopback);
  await waitReady(nameserverPod.process, nameserverPod.httpPort);
  nameserver = client(nameserverPod.port);
  const brokerPod = (ordinal: number): Promise<Pod> =>
    startPod('broker-a', ordinal, (ports) => ({
      ...loopback(ports),
      CONVEYOR_DATA_DIR: join(dir, `data-broker-a-${ordinal}`),
      CONVEYOR_NAMESERVERS: `127.0.0.1:${nameserverPod.port}`,
    }));
  [master, slave] = await Promise.all([brokerPod(0), brokerPod(1)]);
  await Promise.all([waitReady(master.process, master.httpPort), waitReady(slave.process, slave.httpPort)]);
});

afterAll(() => {
  for (const c of clients) c.close();
});

describe('processes configured only by the manifests’ environment', () => {
  test('are started with the container args alone', () => {
    expect([nameserverPod.args, master.args, slave.args]).toEqual([['nameserver'], ['broker'], ['broker']]);
  });

  test('the brokers of a group register under their stable DNS names, id from the pod ordinal', async () => {
    const info = await callUnary(nameserver, NameServerService.getClusterInfo, {}, CALL_DEADLINE_MS);
    const registered = info.brokers.map((b) => `${b.clusterName}/${b.brokerName}/${b.brokerId}@${b.brokerAddress}`).sort();
    expect(registered).toEqual([
      `DefaultCluster/broker-a/0@broker-a-0.conveyor-broker.conveyor.svc.cluster.local:${master.port}`,
      `DefaultCluster/broker-a/1@broker-a-1.conveyor-broker.conveyor.svc.cluster.local:${slave.port}`,
    ]);
    const status = await callUnary(client(master.port), BrokerService.getBrokerStatus, {}, CALL_DEADLINE_MS);
    expect(status).toMatchObject({ clusterName: 'DefaultCluster', brokerName: 'broker-a', brokerId: 0, role: 'master', flushMode: 'async' });
    expect((await callUnary(client(slave.port), BrokerService.getBrokerStatus, {}, CALL_DEADLINE_MS)).role).toBe('slave');
  });

  test('the master serves: a topic is routed to its DNS name, and a sent message is pulled back', async () => {
    const broker = client(master.port);
    await callUnary(broker, BrokerService.upsertTopic, { config: { topicName: 'deploy-env', readQueueCount: 2, writeQueueCount: 2, perm: 6 } }, CALL_DEADLINE_MS);
    const route = await callUnary(nameserver, NameServerService.getRoute, { topic: 'deploy-env' }, CALL_DEADLINE_MS);
    expect(route.brokers.flatMap((b) => (b.addresses ?? []).map((a) => a.address))).toContain(`broker-a-0.conveyor-broker.conveyor.svc.cluster.local:${master.port}`);

    const sent = await callUnary(broker, BrokerService.send, { topic: 'deploy-env', queueId: 1, producerGroup: 'pg', messages: [{ messageId: 'env-1', body: Buffer.from('hello from k8s env'), bornTimestampMs: Date.now(), keys: [], tag: '', properties: {} }] }, CALL_DEADLINE_MS);
    // Production replication is sync; the slave here cannot reach its master's cluster DNS name, so
    // the send may say the slave did not confirm — the message is on the master either way.
    expect([conveyor.ErrorCode.OK, conveyor.ErrorCode.SLAVE_NOT_AVAILABLE, conveyor.ErrorCode.SLAVE_TIMEOUT]).toContain(sent.results[0]?.status);
    expect(sent.results[0]).toMatchObject({ messageId: 'env-1', brokerName: 'broker-a', queueId: 1, queueOffset: 0 });

    const pulled = await callUnary(broker, BrokerService.pull, { consumerGroup: 'g', topic: 'deploy-env', queueId: 1, queueOffset: 0, maxCount: 10 }, CALL_DEADLINE_MS);
    expect([...decodeRecords(Buffer.from(pulled.records))].map((r) => [r.messageId, Buffer.from(r.body).toString()])).toEqual([['env-1', 'hello from k8s env']]);
  });

  test('on SIGTERM a broker unregisters and exits cleanly well within the pod’s grace period', async () => {
    const set = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'broker-a') as StatefulSet;
    const graceMs = (set.spec?.template.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    const started = Date.now();
    const exit = await slave.process.stop(graceMs);
    expect(exit).toBe(0);
    expect(Date.now() - started).toBeLessThan(graceMs);
    const info = await callUnary(nameserver, NameServerService.getClusterInfo, {}, CALL_DEADLINE_MS);
    expect(info.brokers.map((b) => `${b.brokerName}/${b.brokerId}`)).toEqual(['broker-a/0']);
  });
});
