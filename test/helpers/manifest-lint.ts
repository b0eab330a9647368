// Lint of rendered Kubernetes objects: what the API schemas cannot see. Selectors against labels,
// references between objects, probe ports, and — by loading each container's environment with the
// processes' own config schemas — that every CONVEYOR_* variable is a real setting with a valid
// value, that ports agree with settings, and that a broker's identity comes from its pod.
// docs/deploy.md ("How the manifests are checked") lists the rules.
import { readFileSync } from 'node:fs';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Container, PodSpec, Probe, Service } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import { BROKER_SETTINGS } from '../../broker/config.js';
import { envVarName, loadConfig, type Schema } from '../../common/config.js';
import { isConveyorError } from '../../common/errors.js';
import { SHUTDOWN_TIMEOUT_MS } from '../../common/lifecycle.js';
import { NAMESERVER_SETTINGS } from '../../nameserver/config.js';
import {
  CLUSTER_SCOPED_KINDS,
  DOCKERFILE_PATH,
  containerEnvironment,
  containersOf,
  dockerfileEnvironment,
  objectId,
  podSpecOf,
  statefulSetPod,
  type KubeObject,
  type PodIdentity,
  type Problem,
} from './manifests.js';

/** What a container runs (its first argument) → the settings that process reads. */
export const PROCESS_SETTINGS = { nameserver: NAMESERVER_SETTINGS, broker: BROKER_SETTINGS } as const satisfies Record<string, Schema>;
type ProcessName = keyof typeof PROCESS_SETTINGS;

/** Variables outside CONVEYOR_* that a container may set without referencing them: Node reads them. */
const RUNTIME_ENV_NAMES = new Set(['NODE_OPTIONS', 'NODE_ENV', 'TZ']);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A StatefulSet's name + '-' + a 10-character revision hash must stay a 63-character label. */
const STATEFUL_SET_NAME_MAX = 52;
const CLUSTER_DOMAIN = 'svc.cluster.local';

function isProcess(name: string | undefined): name is ProcessName {
  return name !== undefined && Object.hasOwn(PROCESS_SETTINGS, name);
}

/** matchLabels and matchExpressions, as the API server evaluates them; an empty selector selects nothing here. */
export function selects(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined || (selector.matchLabels === undefined && selector.matchExpressions === undefined)) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In':
        return labels[key] !== undefined && values.includes(labels[key]);
      case 'NotIn':
        return labels[key] === undefined || !values.includes(labels[key]);
      case 'Exists':
        return labels[key] !== undefined;
      case 'DoesNotExist':
        return labels[key] === undefined;
      default:
        return false;
    }
  });
  return byLabels && byExpressions;
}

function preStopSeconds(container: Container): number | undefined {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep !== undefined) return preStop.sleep.seconds;
  const command = preStop?.exec?.command ?? [];
  return command[0] === 'sleep' && command.length === 2 ? Number(command[1]) : preStop === undefined ? undefined : 0;
}

/** The pods a workload makes: every ordinal of a StatefulSet, one representative of a Deployment. */
function podsOf(workload: KubeObject): PodIdentity[] {
  if (workload.kind === 'StatefulSet') {
    const replicas = (workload as StatefulSet).spec?.replicas ?? 1;
    return Array.from({ length: Math.max(replicas, 1) }, (_, ordinal) => statefulSetPod(workload, ordinal));
  }
  const labels = (workload as StatefulSet).spec?.template?.metadata?.labels ?? {};
  return [{ name: `${workload.metadata.name}-pod`, namespace: workload.metadata.namespace ?? 'default', labels }];
}

/**
 * Lints a rendered set of objects; an empty list means nothing was found. Rule names:
 * dns-name, unique-name, namespace, selector-matches-template, service-name-headless,
 * service-selects-pods, pdb-selects-workload, pdb-covers-workload, anti-affinity, resources,
 * probe-port, probe-endpoints, grace-period, process, env-reference, env-setting, env-value,
 * port-setting, broker-identity, advertised-host, data-dir-volume, nameservers-listed.
 */
export function lintManifests(objects: readonly KubeObject[], imageEnv: Record<string, string> = dockerfileEnvironment(readFileSync(DOCKERFILE_PATH, 'utf8'))): Problem[] {
  const problems: Problem[] = [];
  const report = (rule: string, object: KubeObject, message: string): void => void problems.push({ rule, object: objectId(object), message });
  const namespaceOf = (o: KubeObject): string => o.metadata.namespace ?? 'default';
  const inNamespace = (kind: string, namespace: string): KubeObject[] => objects.filter((o) => o.kind === kind && namespaceOf(o) === namespace);
  const workloads = objects.filter((o) => podSpecOf(o) !== undefined);
  const templateLabels = (w: KubeObject): Record<string, string> => (w as StatefulSet).spec?.template?.metadata?.labels ?? {};

  const seen = new Set<string>();
  for (const object of objects) {
    const key = `${object.kind}/${namespaceOf(object)}/${object.metadata.name}`;
    if (seen.has(key)) report('unique-name', object, 'defined twice');
    seen.add(key);
    if (!DNS_LABEL.test(object.metadata.name) || object.metadata.name.length > 63) report('dns-name', object, `'${object.metadata.name}' is not a DNS label (lowercase letters, digits, '-', at most 63)`);
    if (!CLUSTER_SCOPED_KINDS.has(object.kind) && !objects.some((o) => o.kind === 'Namespace' && o.metadata.name === namespaceOf(object))) {
      report('namespace', object, `namespace '${namespaceOf(object)}' is not created by the manifests`);
    }
  }

  for (const service of objects.filter((o) => o.kind === 'Service')) {
    const selector = (service as Service).spec?.selector;
    const targets = workloads.filter((w) => namespaceOf(w) === namespaceOf(service) && selects({ matchLabels: selector }, templateLabels(w)));
    if (targets.length === 0) report('service-selects-pods', service, `selector ${JSON.stringify(selector ?? {})} selects no workload's pods`);
    for (const port of (service as Service).spec?.ports ?? []) {
      if (typeof port.targetPort !== 'string') continue;
      for (const target of targets) {
        if (!containersOf(target).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort))) {
          report('service-selects-pods', service, `targetPort '${port.targetPort}' is not a container port of ${objectId(target)}`);
        }
      }
    }
  }

  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    const selector = (pdb as PodDisruptionBudget).spec?.selector;
    if (!workloads.some((w) => namespaceOf(w) === namespaceOf(pdb) && selects(selector, templateLabels(w)))) {
      report('pdb-selects-workload', pdb, `selector ${JSON.stringify(selector ?? {})} selects no workload's pods`);
    }
  }

  const nameserverPods: Array<{ pod: PodIdentity; set: KubeObject; grpcPort: number | undefined }> = [];
  const brokerContainers: Array<{ workload: KubeObject; container: Container; pod: PodIdentity; nameservers: string[] }> = [];
  const brokerNames = new Map<string, string>();

  for (const workload of workloads) {
    const spec = podSpecOf(workload) as PodSpec;
    const labels = templateLabels(workload);
    const namespace = namespaceOf(workload);
    const selector = (workload as StatefulSet).spec?.selector;
    if (!selects(selector, labels)) report('selector-matches-template', workload, `selector ${JSON.stringify(selector ?? {})} does not match the template labels ${JSON.stringify(labels)}`);
    if (workload.kind === 'StatefulSet') {
      if (workload.metadata.name.length > STATEFUL_SET_NAME_MAX) report('dns-name', workload, `a StatefulSet name longer than ${STATEFUL_SET_NAME_MAX} makes invalid pod labels`);
      const serviceName = (workload as StatefulSet).spec?.serviceName ?? '';
      const service = inNamespace('Service', namespace).find((s) => s.metadata.name === serviceName) as (KubeObject & Service) | undefined;
      if (service === undefined) report('service-name-headless', workload, `serviceName '${serviceName}' names no Service in namespace ${namespace}`);
      else if (service.spec?.clusterIP !== 'None') report('service-name-headless', workload, `Service '${serviceName}' is not headless (clusterIP: None), so pods get no stable DNS names`);
      else if (!selects({ matchLabels: service.spec.selector }, labels)) report('service-name-headless', workload, `Service '${serviceName}' does not select this StatefulSet's pods`);
    }
    const budgets = inNamespace('PodDisruptionBudget', namespace).filter((p) => selects((p as PodDisruptionBudget).spec?.selector, labels));
    if (budgets.length !== 1) report('pdb-covers-workload', workload, `${budgets.length} PodDisruptionBudgets select its pods (want exactly 1)`);
    for (const budget of budgets) {
      if ((budget as PodDisruptionBudget).spec?.maxUnavailable !== 1) report('pdb-covers-workload', workload, `${objectId(budget)} must allow at most 1 unavailable pod (maxUnavailable: 1)`);
    }
    const affinity = spec.affinity?.podAntiAffinity;
    const terms = [...(affinity?.requiredDuringSchedulingIgnoredDuringExecution ?? []), ...(affinity?.preferredDuringSchedulingIgnoredDuringExecution ?? []).map((t) => t.podAffinityTerm)];
    if (!terms.some((t) => t.topologyKey === 'kubernetes.io/hostname' && selects(t.labelSelector, labels))) {
      report('anti-affinity', workload, 'no pod anti-affinity term on kubernetes.io/hostname selects its own pods, so they may share a node');
    }

    for (const container of spec.containers) {
      const where = `container ${container.name}`;
      if (!DNS_LABEL.test(container.name)) report('dns-name', workload, `${where}: '${container.name}' is not a DNS label`);
      for (const port of container.ports ?? []) {
        if (port.name !== undefined && !/^(?=.*[a-z])[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port.name)) report('dns-name', workload, `${where}: port name '${port.name}' is not a valid port name`);
        if (port.name !== undefined && port.name.length > 15) report('dns-name', workload, `${where}: port name '${port.name}' is longer than 15`);
      }
      for (const resource of ['requests', 'limits'] as const) {
        for (const kind of ['cpu', 'memory']) if (container.resources?.[resource]?.[kind] === undefined) report('resources', workload, `${where}: no ${resource}.${kind}`);
      }
      const probes: Array<[string, Probe | undefined]> = [['readinessProbe', container.readinessProbe], ['livenessProbe', container.livenessProbe], ['startupProbe', container.startupProbe]];
      for (const [name, probe] of probes) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port ?? probe?.grpc?.port;
        if (port === undefined) continue;
        if (!(container.ports ?? []).some((p) => p.name === port || p.containerPort === port)) report('probe-port', workload, `${where}: ${name} port ${String(port)} is not one of the container's ports`);
      }

      const process = container.args?.[0];
      if (!isProcess(process)) {
        report('process', workload, `${where}: args[0] '${String(process)}' is not a Conveyor process (${Object.keys(PROCESS_SETTINGS).join(', ')})`);
        continue;
      }
      if (container.readinessProbe?.httpGet?.path !== '/readyz') report('probe-endpoints', workload, `${where}: readinessProbe must GET /readyz`);
      if (container.livenessProbe?.httpGet?.path !== '/healthz') report('probe-endpoints', workload, `${where}: livenessProbe must GET /healthz`);
      const preStop = preStopSeconds(container);
      const grace = spec.terminationGracePeriodSeconds ?? 30;
      if (preStop === undefined) report('grace-period', workload, `${where}: no preStop hook`);
      else if (grace * 1000 < preStop * 1000 + SHUTDOWN_TIMEOUT_MS) {
        report('grace-period', workload, `terminationGracePeriodSeconds ${grace} does not cover preStop (${preStop} s) + clean shutdown (${SHUTDOWN_TIMEOUT_MS / 1000} s)`);
      }

      const schema: Schema = PROCESS_SETTINGS[process];
      for (const [index, pod] of podsOf(workload).entries()) {
        const { env, declared, referenced, issues } = containerEnvironment(objects, container, pod, imageEnv);
        if (index === 0) {
          for (const issue of issues) report('env-reference', workload, `${where}: ${issue}`);
          for (const name of declared) {
            if (name.startsWith('CONVEYOR_')) {
              if (!Object.keys(schema).some((setting) => envVarName(setting) === name)) report('env-setting', workload, `${where}: ${name} is not a setting of 'conveyor ${process}'`);
            } else if (!referenced.has(name) && !RUNTIME_ENV_NAMES.has(name)) {
              report('env-setting', workload, `${where}: ${name} is set but neither a setting nor referenced as $(${name})`);
            }
          }
        }
        let config: Record<string, unknown>;
        try {
          config = loadConfig(schema, { env });
        } catch (err) {
          if (!isConveyorError(err)) throw err;
          for (const line of String(err.fields.problems ?? err.message).split('\n')) report('env-value', workload, `${where} in pod ${pod.name}: ${line}`);
          continue;
        }
        for (const [portName, setting] of [['grpc', 'port'], ['http', 'httpPort']] as const) {
          const port = (container.ports ?? []).find((p) => p.name === portName)?.containerPort;
          if (port !== config[setting]) report('port-setting', workload, `${where}: container port '${portName}' is ${String(port)} but ${setting} is ${String(config[setting])}`);
        }
        if (process === 'nameserver') {
          nameserverPods.push({ pod, set: workload, grpcPort: config.port as number });
          continue;
        }
        checkBroker(workload, container, pod, index, config, report, brokerNames);
        brokerContainers.push({ workload, container, pod, nameservers: config.nameservers as string[] });
      }
    }
  }

  // A broker's nameserver list names either the nameservers' headless Service (it resolves to every
  // ready nameserver pod, re-resolved by the broker, so adding a nameserver needs no broker restart)
  // or each nameserver pod by its stable name; either way at the nameservers' gRPC port, and
  // together covering every nameserver pod of the namespace.
  for (const { workload, container, pod, nameservers } of brokerContainers) {
    const inNamespace = nameserverPods.filter((n) => n.pod.namespace === pod.namespace);
    const expected = new Set(inNamespace.map((n) => n.pod.name));
    const listed = new Set<string>();
    for (const address of nameservers) {
      const [host = '', port = ''] = address.split(':');
      const service = headlessServiceAt(host, pod.namespace);
      if (service !== undefined) {
        const covered = inNamespace.filter((n) => selects({ matchLabels: (service as Service).spec?.selector }, templateLabels(n.set)));
        if (covered.length === 0 || covered.some((n) => Number(port) !== n.grpcPort)) {
          report('nameservers-listed', workload, `container ${container.name}: '${address}' is a headless Service but not of the nameserver pods at their gRPC port`);
        } else for (const n of covered) listed.add(n.pod.name);
        continue;
      }
      const [podName = '', serviceName, namespace = pod.namespace, ...domain] = host.split('.');
      const target = nameserverPods.find((n) => n.pod.name === podName && n.pod.namespace === namespace);
      const fqdn = domain.length === 0 || domain.join('.') === CLUSTER_DOMAIN;
      if (target === undefined || (target.set as StatefulSet).spec?.serviceName !== serviceName || !fqdn || Number(port) !== target.grpcPort) {
        report('nameservers-listed', workload, `container ${container.name}: '${address}' is neither the nameservers' headless Service nor the stable name of a nameserver pod, at the gRPC port`);
      } else listed.add(podName);
    }
    const missing = [...expected].filter((name) => !listed.has(name));
    if (missing.length > 0) report('nameservers-listed', workload, `container ${container.name} in pod ${pod.name}: nameservers missing from its list: ${missing.join(', ')}`);
  }

  /** The headless Service a host name (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<domain>`) stands for, if any. */
  function headlessServiceAt(host: string, podNamespace: string): KubeObject | undefined {
    const [name = '', namespace = podNamespace, svc, ...domain] = host.split('.');
    if (svc !== undefined && svc !== 'svc') return undefined;
    if (domain.length > 0 && domain.join('.') !== CLUSTER_DOMAIN) return undefined;
    return objects.find((o) => o.kind === 'Service' && o.metadata.name === name && namespaceOf(o) === namespace && (o as Service).spec?.clusterIP === 'None');
  }
  return dedupe(problems);
}

/** A broker's identity comes from its pod: id = ordinal, advertised host = stable DNS name, data on a claim. */
function checkBroker(workload: KubeObject, container: Container, pod: PodIdentity, ordinal: number, config: Record<string, unknown>, report: (rule: string, object: KubeObject, message: string) => void, brokerNames: Map<string, string>): void {
  const where = `container ${container.name} in pod ${pod.name}`;
  if (workload.kind !== 'StatefulSet') {
    report('broker-identity', workload, 'a broker needs a StatefulSet: its identity and data must survive rescheduling');
    return;
  }
  const set = workload as StatefulSet;
  if (config.brokerId !== ordinal) report('broker-identity', workload, `${where}: brokerId is ${String(config.brokerId)}, not the pod ordinal ${ordinal}`);
  const owner = brokerNames.get(String(config.brokerName));
  if (owner !== undefined && owner !== workload.metadata.name) report('broker-identity', workload, `${where}: brokerName '${String(config.brokerName)}' is also used by StatefulSet ${owner}`);
  brokerNames.set(String(config.brokerName), workload.metadata.name);
  const stableName = `${pod.name}.${set.spec?.serviceName ?? ''}.${pod.namespace}.${CLUSTER_DOMAIN}`;
  if (config.advertisedHost !== stableName) report('advertised-host', workload, `${where}: advertisedHost is '${String(config.advertisedHost)}', not the pod's stable DNS name ${stableName}`);
  const dataDir = String(config.dataDir);
  const claims = new Set((set.spec?.volumeClaimTemplates ?? []).map((t) => t.metadata?.name));
  const mount = (container.volumeMounts ?? []).find((m) => dataDir === m.mountPath || dataDir.startsWith(`${m.mountPath.replace(/\/$/, '')}/`));
  if (mount === undefined || !claims.has(mount.name)) report('data-dir-volume', workload, `${where}: dataDir ${dataDir} is not on a volume from volumeClaimTemplates`);
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.rule}|${p.object}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
