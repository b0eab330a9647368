// The package from the outside, as a user gets it: `npm pack` of this checkout, installed into a
// fresh project in a temp directory (not this repo's node_modules). The tarball holds the compiled
// library, the `conveyor` command, the .proto files, README and LICENSE, and no tests or sources;
// a plain `node` ESM script imports it by its package name and sends and consumes against a real
// cluster; a TypeScript consumer of the API type-checks under the strictest settings a user might
// have, with skipLibCheck off so our declarations are checked too.
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../helpers/processes.js';
import { startTestCluster, type TestCluster } from './client-fixture.js';

const run = promisify(execFile);
const PACKAGE = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { name: string; version: string; devDependencies: Record<string, string> };
/** npm pack + npm install from the local cache; the registry is asked only for what it lacks. */
const NPM_TIMEOUT_MS = 240_000;
/** The user's script: topic create, 20 sends, 20 consumed; all bounded inside the script too. */
const SCRIPT_TIMEOUT_MS = 60_000;
const MESSAGES = 20;

interface PackedFile {
  path: string;
}

async function npm(args: string[], cwd: string): Promise<string> {
  // npm_config_* of the outer `npm test` (a workspace, a dry run…) must not leak into the user's npm.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')));
  const { stdout } = await run('npm', args, { cwd, env, timeout: NPM_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

const USER_SCRIPT = `
import { Admin, Producer, PushConsumer, ConveyorError, ErrorCode, createMessageId } from '${PACKAGE.name}';

const nameservers = process.argv[2];
const count = Number(process.argv[3]);
const deadline = setTimeout(() => { console.error('user script timed out'); process.exit(2); }, ${SCRIPT_TIMEOUT_MS - 5_000});
const admin = new Admin({ nameservers });
await admin.start();
await admin.createTopic('from-outside', { queues: 2 });
const producer = new Producer({ nameservers });
await producer.start();
const sent = [];
for (let i = 0; i < count; i++) {
  for (let attempt = 0; ; attempt++) {
    try {
      sent.push((await producer.send('from-outside', { body: 'outside-' + i, messageId: createMessageId() })).messageId);
      break;
    } catch (err) {
      // A fresh topic reaches the routes within a registration interval.
      if (!(err instanceof ConveyorError) || err.code !== ErrorCode.TOPIC_NOT_FOUND || attempt >= 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
const received = new Map();
let done;
const all = new Promise((resolve) => (done = resolve));
const consumer = new PushConsumer({
  nameservers, group: 'outside', topic: 'from-outside', from: 'first',
  handler: (message) => { received.set(message.messageId, message.body.toString()); if (received.size >= count) done(); },
});
await consumer.start();
await all;
await consumer.shutdown();
await producer.shutdown();
await admin.shutdown();
clearTimeout(deadline);
console.log(JSON.stringify({ sent, received: [...received.entries()] }));
`;

const USER_TYPESCRIPT = `
import { Admin, ConveyorError, ErrorCode, Producer, PullConsumer, PushConsumer, errorCodeName, isConveyorError } from '${PACKAGE.name}';
import type { Message, MessageQueue, PullResult, SendResult, ProducerOptions, PushConsumerOptions } from '${PACKAGE.name}';

export async function roundTrip(nameservers: string): Promise<number> {
  const options: ProducerOptions = { nameservers, retries: 2 };
  const producer = new Producer(options);
  await producer.start();
  const result: SendResult = await producer.send('orders', { body: 'hello', keys: ['order-42'], tag: 'created' });
  const offset: number = result.queueOffset;
  const consumerOptions: PushConsumerOptions = {
    nameservers, group: 'billing', topic: 'orders', from: 'first',
    handler: async (message: Message): Promise<void> => { void message.body.toString(); },
  };
  const push = new PushConsumer(consumerOptions);
  await push.start();
  await push.shutdown();
  const pull = new PullConsumer({ nameservers, group: 'audit' });
  await pull.start();
  const queues: MessageQueue[] = await pull.queues('orders');
  const first = queues[0];
  if (first !== undefined) {
    const page: PullResult = await pull.pull(first, 0, 10, { maxWaitMs: 0 });
    void page;
  }
  await pull.shutdown();
  const admin = new Admin({ nameservers });
  await admin.start();
  await admin.shutdown();
  await producer.shutdown();
  return offset;
}

export function describeError(err: unknown): string {
  if (isConveyorError(err)) return errorCodeName(err.code);
  if (err instanceof ConveyorError && err.code === ErrorCode.TOPIC_NOT_FOUND) return 'never';
  return 'other';
}
`;

const USER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    exactOptionalPropertyTypes: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noPropertyAccessFromIndexSignature: true,
    skipLibCheck: false,
    noEmit: true,
    types: ['node'],
  },
  include: ['user.ts'],
};

describe(`the ${PACKAGE.name} package, packed and installed into a fresh project`, () => {
  let project: string;
  let files: string[];
  let cluster: TestCluster;

  beforeAll(async () => {
    const root = tempDir('conveyor-package-');
    // dist/ is fresh (the project's global setup built it); --ignore-scripts keeps prepare from
    // rebuilding it from scratch under the other tests.
    const packed = JSON.parse(await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', root], REPO_ROOT)) as Array<{ filename: string; files: PackedFile[] }>;
    const tarball = join(root, packed[0]!.filename);
    files = packed[0]!.files.map((f) => f.path);
    project = join(root, 'user-project');
    await run('mkdir', ['-p', project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', version: '1.0.0', private: true, type: 'module' }));
    await npm(['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `typescript@${PACKAGE.devDependencies['typescript']}`, `@types/node@${PACKAGE.devDependencies['@types/node']}`], project);
    cluster = await startTestCluster({ groups: ['broker-a'] });
  });

  it('ships the compiled library, the command, the .proto files, README and LICENSE, and no tests or TypeScript sources', () => {
    expect(files).toEqual(expect.arrayContaining(['package.json', 'README.md', 'LICENSE', 'bin/conveyor.js', 'dist/client/index.js', 'dist/client/index.d.ts', 'dist/broker/main.js', 'dist/nameserver/main.js', 'proto/broker.proto']));
    expect(files.filter((f) => f.startsWith('test/') || f.includes('.test.'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it('runs a plain node ESM script that imports it by name, sends and consumes against a real cluster', async () => {
    writeFileSync(join(project, 'round-trip.mjs'), USER_SCRIPT);
    const { stdout } = await run(process.execPath, ['round-trip.mjs', cluster.nameservers, String(MESSAGES)], { cwd: project, timeout: SCRIPT_TIMEOUT_MS });
    const outcome = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as { sent: string[]; received: Array<[string, string]> };
    expect(outcome.sent).toHaveLength(MESSAGES);
    expect(new Map(outcome.received)).toEqual(new Map(outcome.sent.map((id, i) => [id, `outside-${i}`])));
  });

  it('type-checks a TypeScript user of the API with strict, exactOptionalPropertyTypes, noUncheckedIndexedAccess and skipLibCheck off', async () => {
    writeFileSync(join(project, 'user.ts'), USER_TYPESCRIPT);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(USER_TSCONFIG));
    const tsc = join(project, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = await run(process.execPath, [tsc, '-p', project], { cwd: project, timeout: NPM_TIMEOUT_MS }).then(
      () => ({ ok: true, output: '' }),
      (err: { stdout?: string }) => ({ ok: false, output: err.stdout ?? String(err) }),
    );
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('installs the conveyor command, which runs the compiled code', async () => {
    const { stdout } = await run(join(project, 'node_modules', '.bin', 'conveyor'), ['--help'], { cwd: project, timeout: SCRIPT_TIMEOUT_MS });
    expect(stdout).toContain('Usage: conveyor');
    expect(readFileSync(join(project, 'node_modules', PACKAGE.name, 'package.json'), 'utf8')).toContain(`"version": "${PACKAGE.version}"`);
  });
});
