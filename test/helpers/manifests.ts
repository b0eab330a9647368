// Offline tooling for deploy/k8s (docs/deploy.md, "How the manifests are checked"):
// - renderKustomization: the subset of kustomize the manifests use, so no kubectl is needed
//   (test/unit/deploy checks that it agrees with `kubectl kustomize` where kubectl exists);
// - validateSchemas: kubernetes-models (types, enums, required fields) and kubernetes-types typed
//   through the TypeScript checker (unknown or misspelled fields, which kubernetes-models lets by);
// - containerEnvironment: the environment kubelet would give a container (image ENV, envFrom,
//   env with $(VAR) expansion, downward API), used by the lint and by the env-only cluster test.
// The lint of what schemas cannot see is in manifest-lint.ts.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import YAML from 'yaml';
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { Container, PodSpec } from 'kubernetes-types/core/v1.js';
import { REPO_ROOT } from './processes.js';

export const DEPLOY_K8S_DIR = join(REPO_ROOT, 'deploy', 'k8s');
export const DOCKERFILE_PATH = join(REPO_ROOT, 'deploy', 'docker', 'Dockerfile');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [field: string]: unknown };
  [field: string]: unknown;
}

/** One finding: which rule, on which object (`Kind/name`), and what a person should fix. */
export interface Problem {
  rule: string;
  object: string;
  message: string;
}

export function objectId(object: KubeObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

// ---------------------------------------------------------------------------------------------
// Rendering

/** The kustomization fields this renderer implements; any other field is an error, not ignored. */
const KUSTOMIZATION_FIELDS = new Set(['apiVersion', 'kind', 'resources', 'namespace', 'replicas', 'images', 'patches']);
/** Kinds without a namespace (the ones a Conveyor deployment could plausibly contain). */
export const CLUSTER_SCOPED_KINDS = new Set(['Namespace', 'PersistentVolume', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass']);

interface Kustomization {
  resources?: string[];
  namespace?: string;
  replicas?: Array<{ name: string; count: number }>;
  images?: Array<{ name: string; newName?: string; newTag?: string }>;
  patches?: Array<{ path?: string; patch?: string; target?: { kind?: string; name?: string; labelSelector?: string } }>;
}

interface PatchOperation {
  op: string;
  path: string;
  value?: unknown;
}

/** Every YAML document of a file, each checked to look like a Kubernetes object. */
export function readObjects(file: string): KubeObject[] {
  return YAML.parseAllDocuments(readFileSync(file, 'utf8'))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((value) => value !== null && value !== undefined)
    .map((value) => {
      const object = value as Partial<KubeObject>;
      if (typeof object.apiVersion !== 'string' || typeof object.kind !== 'string' || typeof object.metadata?.name !== 'string') {
        throw new Error(`${file}: a document without apiVersion, kind or metadata.name`);
      }
      return object as KubeObject;
    });
}

/** Renders the kustomization in `dir` like `kubectl kustomize dir` (for the fields listed above). */
export function renderKustomization(dir: string): KubeObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = YAML.parse(readFileSync(file, 'utf8')) as Kustomization & Record<string, unknown>;
  const unsupported = Object.keys(k).filter((field) => !KUSTOMIZATION_FIELDS.has(field));
  if (unsupported.length > 0) throw new Error(`${file}: fields not supported by the offline renderer: ${unsupported.join(', ')}`);
  const objects = (k.resources ?? []).flatMap((entry) => {
    const path = resolve(dir, entry);
    return statSync(path).isDirectory() ? renderKustomization(path) : readObjects(path);
  });
  for (const patch of k.patches ?? []) {
    const text = patch.patch ?? (patch.path === undefined ? undefined : readFileSync(resolve(dir, patch.path), 'utf8'));
    const operations = text === undefined ? undefined : (YAML.parse(text) as unknown);
    if (!Array.isArray(operations)) throw new Error(`${file}: only JSON 6902 patches (a list of operations) are supported`);
    const targets = objects.filter((object) => matchesTarget(object, patch.target ?? {}));
    if (targets.length === 0) throw new Error(`${file}: patch target ${JSON.stringify(patch.target)} matches no object`);
    for (const target of targets) for (const operation of operations as PatchOperation[]) applyOperation(target, operation, `${file} on ${objectId(target)}`);
  }
  for (const { name, count } of k.replicas ?? []) {
    const targets = objects.filter((o) => o.metadata.name === name && ['StatefulSet', 'Deployment', 'ReplicaSet'].includes(o.kind));
    if (targets.length === 0) throw new Error(`${file}: replicas entry '${name}' matches no workload`);
    for (const target of targets) (target as unknown as StatefulSet & { spec: object }).spec.replicas = count;
  }
  for (const image of k.images ?? []) for (const object of objects) for (const container of containersOf(object)) setImage(container, image);
  if (k.namespace !== undefined) {
    for (const object of objects) if (!CLUSTER_SCOPED_KINDS.has(object.kind)) object.metadata.namespace = k.namespace;
  }
  return objects;
}

function matchesTarget(object: KubeObject, target: { kind?: string; name?: string; labelSelector?: string }): boolean {
  if (target.kind !== undefined && object.kind !== target.kind) return false;
  if (target.name !== undefined && object.metadata.name !== target.name) return false;
  if (target.labelSelector !== undefined) {
    const labels = object.metadata.labels ?? {};
    return target.labelSelector.split(',').every((term) => {
      const [key, value] = term.split('=').map((s) => s.trim());
      return key !== undefined && labels[key] === value;
    });
  }
  return true;
}

/** RFC 6902 add / replace / remove on a JSON pointer (the operations kustomize patches use here). */
function applyOperation(root: KubeObject, operation: PatchOperation, where: string): void {
  const keys = operation.path.split('/').slice(1).map((key) => key.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = keys.pop();
  if (last === undefined) throw new Error(`${where}: empty patch path`);
  let parent: unknown = root;
  for (const key of keys) {
    parent = (parent as Record<string, unknown> | undefined)?.[key];
    if (parent === null || typeof parent !== 'object') throw new Error(`${where}: path ${operation.path} does not exist`);
  }
  const container = parent as Record<string, unknown>;
  const exists = Array.isArray(container) ? Number(last) < container.length : last in container;
  switch (operation.op) {
    case 'add':
      if (Array.isArray(container)) container.splice(last === '-' ? container.length : Number(last), 0, operation.value);
      else container[last] = operation.value;
      return;
    case 'replace':
      if (!exists) throw new Error(`${where}: replace of missing path ${operation.path}`);
      container[last] = operation.value;
      return;
    case 'remove':
      if (!exists) throw new Error(`${where}: remove of missing path ${operation.path}`);
      if (Array.isArray(container)) container.splice(Number(last), 1);
      else delete container[last];
      return;
    default:
      throw new Error(`${where}: patch operation '${operation.op}' is not supported by the offline renderer`);
  }
}

function setImage(container: Container, image: { name: string; newName?: string; newTag?: string }): void {
  const current = container.image ?? '';
  const at = current.lastIndexOf(':');
  const [name, tag] = at > current.lastIndexOf('/') ? [current.slice(0, at), current.slice(at + 1)] : [current, undefined];
  if (name !== image.name) return;
  const newTag = image.newTag ?? tag;
  container.image = `${image.newName ?? name}${newTag === undefined ? '' : `:${newTag}`}`;
}

/** `kubectl kustomize dir`, or undefined when kubectl is not installed. */
export function renderWithKubectl(dir: string): KubeObject[] | undefined {
  const result = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 20_000 });
  if (result.error !== undefined && (result.error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  return YAML.parseAllDocuments(result.stdout).map((doc) => doc.toJS() as KubeObject);
}

// ---------------------------------------------------------------------------------------------
// Pods, containers, environment

export function podSpecOf(object: KubeObject): PodSpec | undefined {
  if (object.kind !== 'StatefulSet' && object.kind !== 'Deployment') return undefined;
  return (object as StatefulSet).spec?.template?.spec;
}

export function containersOf(object: KubeObject): Container[] {
  const spec = podSpecOf(object);
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
}

export interface PodIdentity {
  name: string;
  namespace: string;
  labels: Record<string, string>;
}

/** Pod `ordinal` of a StatefulSet as Kubernetes names and labels it (1.28+: the pod-index label). */
export function statefulSetPod(set: KubeObject, ordinal: number): PodIdentity {
  const name = `${set.metadata.name}-${ordinal}`;
  const labels = (set as StatefulSet).spec?.template?.metadata?.labels ?? {};
  return {
    name,
    namespace: set.metadata.namespace ?? 'default',
    labels: { ...labels, 'apps.kubernetes.io/pod-index': String(ordinal), 'statefulset.kubernetes.io/pod-name': name },
  };
}

/** `ENV` of the final stage of a Dockerfile (what every container of the image starts with). */
export function dockerfileEnvironment(text: string): Record<string, string> {
  const lines = text.replace(/\\\r?\n/g, ' ').split(/\r?\n/);
  let env: Record<string, string> = {};
  for (const line of lines) {
    const instruction = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (instruction?.[1]?.toUpperCase() === 'FROM') env = {};
    if (instruction?.[1]?.toUpperCase() !== 'ENV') continue;
    for (const pair of (instruction[2] ?? '').trim().split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"(.*)"$/, '$1');
    }
  }
  return env;
}

export interface ContainerEnvironment {
  /** Name → value as the process would see it (image ENV overridden by the container's). */
  env: Record<string, string>;
  /** Names set by the container spec itself (envFrom and env), in order. */
  declared: string[];
  /** Names referenced as $(NAME) in env values. */
  referenced: Set<string>;
  /** What kubelet would fail on or leave unexpanded. */
  issues: string[];
}

/**
 * The environment kubelet gives `container` of `pod`: image ENV, then envFrom sources, then env
 * entries in order; $(NAME) expands names the container spec defined earlier ($$ escapes), an
 * undefined one stays as written (and is reported).
 */
export function containerEnvironment(objects: readonly KubeObject[], container: Container, pod: PodIdentity, imageEnv: Record<string, string> = {}): ContainerEnvironment {
  const own = new Map<string, string>();
  const issues: string[] = [];
  const referenced = new Set<string>();
  const configMap = (name: string): Record<string, string> | undefined => {
    const found = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === name && (o.metadata.namespace ?? 'default') === pod.namespace);
    return found === undefined ? undefined : ((found as { data?: Record<string, string> }).data ?? {});
  };
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    const data = name === undefined ? undefined : configMap(name);
    if (data === undefined) {
      issues.push(`envFrom refers to ConfigMap '${name ?? '?'}', which is not in the manifests`);
      continue;
    }
    for (const [key, value] of Object.entries(data)) own.set(`${source.prefix ?? ''}${key}`, String(value));
  }
  for (const entry of container.env ?? []) {
    let value: string | undefined;
    if (entry.value !== undefined) {
      value = entry.value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match: string, name: string | undefined) => {
        if (name === undefined) return '$';
        referenced.add(name);
        const defined = own.get(name);
        if (defined === undefined) issues.push(`${entry.name} refers to $(${name}), which is not defined before it`);
        return defined ?? match;
      });
    } else if (entry.valueFrom?.fieldRef !== undefined) {
      value = fieldValue(pod, entry.valueFrom.fieldRef.fieldPath);
      if (value === undefined) issues.push(`${entry.name}: fieldRef ${entry.valueFrom.fieldRef.fieldPath} has no value in pod ${pod.name}`);
    } else if (entry.valueFrom?.configMapKeyRef !== undefined) {
      const { name, key } = entry.valueFrom.configMapKeyRef;
      value = configMap(name ?? '')?.[key];
      if (value === undefined) issues.push(`${entry.name}: ConfigMap '${name ?? '?'}' has no key '${key}'`);
    } else {
      issues.push(`${entry.name}: only value, fieldRef and configMapKeyRef are understood by the lint`);
    }
    if (value !== undefined) own.set(entry.name, value);
  }
  return { env: { ...imageEnv, ...Object.fromEntries(own) }, declared: [...own.keys()], referenced, issues };
}

/**
 * The environment of the first container of pod `ordinal` of StatefulSet `name`, image ENV
 * included: exactly what the process in that pod would read.
 */
export function podEnvironment(objects: readonly KubeObject[], name: string, ordinal: number): Record<string, string> {
  const set = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === name);
  const container = set === undefined ? undefined : podSpecOf(set)?.containers[0];
  if (set === undefined || container === undefined) throw new Error(`no StatefulSet ${name} with a container in the manifests`);
  const imageEnv = dockerfileEnvironment(readFileSync(DOCKERFILE_PATH, 'utf8'));
  const { env, issues } = containerEnvironment(objects, container, statefulSetPod(set, ordinal), imageEnv);
  if (issues.length > 0) throw new Error(`environment of ${name}-${ordinal}: ${issues.join('; ')}`);
  return env;
}

/** The downward API's fieldRef paths that make sense in an env var (status.* depends on scheduling). */
function fieldValue(pod: PodIdentity, path: string): string | undefined {
  if (path === 'metadata.name') return pod.name;
  if (path === 'metadata.namespace') return pod.namespace;
  const label = /^metadata\.labels\['([^']+)'\]$/.exec(path);
  if (label?.[1] !== undefined) return pod.labels[label[1]];
  if (path.startsWith('status.') || path.startsWith('spec.')) return `<${path}>`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Schemas

/** kubernetes-models: wrong types, bad enum values, missing required fields. */
async function validateWithModels(objects: readonly KubeObject[]): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const object of objects) {
    let Model: (new (data: unknown) => { validate(): void }) | undefined;
    try {
      const specifier = `kubernetes-models/${object.apiVersion}/${object.kind}`;
      const module = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
      Model = module[object.kind] as typeof Model;
    } catch {
      Model = undefined;
    }
    if (Model === undefined) {
      problems.push({ rule: 'schema', object: objectId(object), message: `unknown apiVersion/kind ${object.apiVersion} ${object.kind}` });
      continue;
    }
    try {
      new Model(structuredClone(object)).validate();
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      for (const message of text.split(', ')) problems.push({ rule: 'schema', object: objectId(object), message });
    }
  }
  return problems;
}

/** Where kubernetes-types keeps an API group's types: `apps/v1` → apps/v1, `v1` → core/v1. */
function typesModule(apiVersion: string): string {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['core', apiVersion];
  return `kubernetes-types/${(group ?? '').split('.')[0]}/${version}`;
}

/**
 * kubernetes-types through the TypeScript checker: each object becomes a typed object literal, so
 * excess-property checks flag unknown or misspelled fields at any depth. Each property sits on its
 * own line, and the line tells the field path of a diagnostic.
 */
function validateWithTypes(objects: readonly KubeObject[]): Problem[] {
  const lines: Array<{ text: string; path: string; object: number }> = [];
  const problems: Problem[] = [];
  const emit = (value: unknown, path: string, indent: string, prefix: string, suffix: string, object: number): void => {
    if (value !== null && typeof value === 'object') {
      const entries: Array<[string, unknown]> = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : Object.entries(value);
      const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
      lines.push({ text: `${indent}${prefix}${open}`, path, object });
      for (const [key, child] of entries) {
        const childPath = Array.isArray(value) ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
        const name = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
        emit(child, childPath, `${indent}  `, Array.isArray(value) ? '' : `${name}: `, ',', object);
      }
      lines.push({ text: `${indent}${close}${suffix}`, path, object });
    } else {
      lines.push({ text: `${indent}${prefix}${JSON.stringify(value)}${suffix}`, path, object });
    }
  };
  objects.forEach((object, index) => {
    const module = typesModule(object.apiVersion);
    if (!/^[A-Z][A-Za-z0-9]*$/.test(object.kind) || !existsSync(join(REPO_ROOT, 'node_modules', `${module}.d.ts`))) {
      problems.push({ rule: 'schema', object: objectId(object), message: `no Kubernetes type for ${object.apiVersion} ${object.kind}` });
      return;
    }
    emit(object, '', '', `export const object${index}: import('${module}').${object.kind} = `, ';', index);
  });

  const file = join(REPO_ROOT, 'test', 'helpers', '__typed-manifests__.ts');
  const text = lines.map((l) => l.text).join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
    lib: ['lib.es2022.d.ts'],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, language, ...rest) => (resolve(name) === file ? ts.createSourceFile(name, text, language) : getSourceFile.call(host, name, language, ...rest));
  host.fileExists = (name) => resolve(name) === file || fileExists.call(host, name);
  host.readFile = (name) => (resolve(name) === file ? text : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const line = diagnostic.file !== undefined && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line : -1;
    const at = lines[line];
    const object = at === undefined ? undefined : objects[at.object];
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ');
    problems.push({ rule: 'schema', object: object === undefined ? '?' : objectId(object), message: `${at?.path === '' ? '' : `${at?.path ?? '?'}: `}${message}` });
  }
  return problems;
}

/** Both schema checks; an empty list means every object is a valid Kubernetes object. */
export async function validateSchemas(objects: readonly KubeObject[]): Promise<Problem[]> {
  return [...(await validateWithModels(objects)), ...validateWithTypes(objects)];
}
