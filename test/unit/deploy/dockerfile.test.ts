// deploy/docker/Dockerfile cannot be built here (no container engine), so it is linted: a Node 20
// base, a non-root user, the data directory as a volume, `conveyor` as entrypoint, production
// dependencies only in the final stage, which runs the compiled dist/ (no TypeScript), nothing
// fetched by URL, settings as known CONVEYOR_* variables, and every source directory the build
// compiles copied into the build stage (and not dockerignored).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { envVarName } from '../../../common/config.js';
import { PROCESS_SETTINGS } from '../../helpers/manifest-lint.js';
import { DOCKERFILE_PATH, dockerfileEnvironment } from '../../helpers/manifests.js';
import { REPO_ROOT } from '../../helpers/processes.js';

interface Instruction {
  keyword: string;
  args: string;
}

function instructions(text: string): Instruction[] {
  return text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const space = line.search(/\s/);
      return { keyword: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

/** JSON-array form (`["a", "b"]`) or shell form, as words. */
function words(args: string): string[] {
  return args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
}

/** The directories of TypeScript sources the build compiles (tsconfig.build.json's include). */
const SOURCE_DIRECTORIES = (JSON.parse(readFileSync(join(REPO_ROOT, 'tsconfig.build.json'), 'utf8').replace(/^\s*\/\/.*$/gm, '')) as { include: string[] }).include;

/** The instructions of the stage named `name` (FROM … AS name), empty when there is none. */
function stageNamed(all: readonly Instruction[], name: string | undefined): Instruction[] {
  const start = all.findIndex((i) => i.keyword === 'FROM' && name !== undefined && new RegExp(`\\bAS\\s+${name}$`, 'i').test(i.args));
  if (start < 0) return [];
  const end = all.findIndex((i, index) => index > start && i.keyword === 'FROM');
  return all.slice(start, end < 0 ? undefined : end);
}

/** What is wrong with a Dockerfile for Conveyor; an empty list means nothing. */
function lintDockerfile(text: string): string[] {
  const all = instructions(text);
  const finalStage = all.slice(all.map((i) => i.keyword).lastIndexOf('FROM'));
  const problems: string[] = [];
  const froms = all.filter((i) => i.keyword === 'FROM').map((i) => words(i.args)[0] ?? '');
  if (froms.length === 0 || !froms.every((image) => /^node:20[.\-a-z0-9]*$/.test(image))) problems.push(`every stage must build FROM node:20… (found ${froms.join(', ')})`);
  const user = finalStage.filter((i) => i.keyword === 'USER').at(-1)?.args;
  if (user === undefined || /^(root|0)(:|$)/.test(user)) problems.push(`the final stage must switch to a non-root USER (found ${user ?? 'none'})`);
  const env = dockerfileEnvironment(text);
  const dataDir = env[envVarName('dataDir')];
  const volumes = finalStage.filter((i) => i.keyword === 'VOLUME').flatMap((i) => words(i.args));
  if (dataDir === undefined || !volumes.includes(dataDir)) problems.push(`the data directory (${envVarName('dataDir')}=${dataDir ?? 'unset'}) must be a VOLUME (found ${volumes.join(', ') || 'none'})`);
  const entrypoint = finalStage.filter((i) => i.keyword === 'ENTRYPOINT').at(-1);
  if (entrypoint === undefined || JSON.stringify(words(entrypoint.args)) !== '["conveyor"]') problems.push(`ENTRYPOINT must be ["conveyor"] (found ${entrypoint?.args ?? 'none'})`);
  if (finalStage.some((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args))) problems.push('the final stage must not install packages (it copies node_modules from a stage)');
  const modulesFrom = finalStage.filter((i) => i.keyword === 'COPY' && /node_modules/.test(i.args)).map((i) => /--from=(\S+)/.exec(i.args)?.[1]);
  const installsOf = (stage: string | undefined): Instruction[] => stageNamed(all, stage).filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
  const modulesInstalls = modulesFrom.flatMap(installsOf);
  if (modulesFrom.length !== 1 || modulesInstalls.length === 0 || !modulesInstalls.every((i) => /\bnpm ci\b/.test(i.args) && /--omit=dev\b/.test(i.args))) problems.push('the final stage\'s dependencies must be installed with npm ci --omit=dev');
  const entries = finalStage.filter((i) => i.keyword === 'COPY').flatMap((i) => words(i.args).filter((w) => !w.startsWith('--')).slice(0, -1));
  if (!entries.some((path) => /(^|\/)dist$/.test(path))) problems.push('the final stage must copy the compiled dist/');
  if (entries.some((path) => SOURCE_DIRECTORIES.includes(path))) problems.push(`the final stage must not copy TypeScript sources (found ${entries.filter((p) => SOURCE_DIRECTORIES.includes(p)).join(', ')})`);
  for (const add of all.filter((i) => i.keyword === 'ADD')) if (/\b(https?|git):\/\//.test(add.args)) problems.push(`ADD fetches from a URL: ${add.args}`);
  for (const from of froms) if (/:latest$|^[^:]+$/.test(from)) problems.push(`base image ${from} is not pinned to a tag`);
  const settings = new Set(Object.values(PROCESS_SETTINGS).flatMap((schema) => Object.keys(schema).map(envVarName)));
  for (const name of Object.keys(env)) if (name.startsWith('CONVEYOR_') && !settings.has(name)) problems.push(`ENV ${name} is not a setting of any Conveyor process`);
  return problems;
}

/**
 * Whether .dockerignore's lines leave `path` out of the build context: a line matches the path or
 * a folder above it (`*` is any one name), the last matching line wins, and a `!` line puts the
 * path back (deploy/* with !deploy/local keeps only the launcher's sources of deploy/).
 */
function dockerIgnored(lines: readonly string[], path: string): boolean {
  const parts = path.split('/');
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const line of lines) {
    const negated = line.startsWith('!');
    const glob = (negated ? line.slice(1) : line).replace(/\/$/, '');
    const pattern = new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    if (prefixes.some((prefix) => pattern.test(prefix))) ignored = !negated;
  }
  return ignored;
}

const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');

describe('deploy/docker/Dockerfile', () => {
  test('passes the lint', () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  test('builds from every source directory the build compiles, and runs bin/ on dist/', () => {
    const copiedBy = (stage: Instruction[]): string[] => stage.filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => words(i.args).slice(0, -1));
    const all = instructions(dockerfile);
    const build = copiedBy(stageNamed(all, 'build'));
    expect(SOURCE_DIRECTORIES).toEqual(expect.arrayContaining(['common', 'nameserver', 'broker', 'client', 'proto']));
    expect(SOURCE_DIRECTORIES.filter((dir) => !build.includes(dir))).toEqual([]);
    expect(build).toEqual(expect.arrayContaining(['tsconfig.json', 'tsconfig.build.json', 'scripts']));
    const finalStage = all.slice(all.map((i) => i.keyword).lastIndexOf('FROM'));
    expect(copiedBy(finalStage)).toEqual(expect.arrayContaining(['bin', 'package.json']));
  });

  test('is not undone by .dockerignore, which keeps node_modules and tests out of the context', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const copied = instructions(dockerfile).filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => words(i.args).slice(0, -1));
    expect(copied.filter((path) => dockerIgnored(ignored, path))).toEqual([]);
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'test']));
    expect(dockerIgnored(ignored, 'deploy/k8s')).toBe(true);
  });
});

describe('the Dockerfile lint reports', () => {
  test.each<[string, string, string, RegExp]>([
    ['an old Node', 'FROM node:20-bookworm-slim AS deps', 'FROM node:18-bookworm-slim AS deps', /FROM node:20/],
    ['an unpinned base image', 'FROM node:20-bookworm-slim\n', 'FROM node\n', /FROM node:20/],
    ['running as root', 'USER node', 'USER root', /non-root USER/],
    ['no data volume', 'VOLUME ["/var/lib/conveyor"]', 'VOLUME ["/data"]', /must be a VOLUME/],
    ['another entrypoint', 'ENTRYPOINT ["conveyor"]', 'ENTRYPOINT ["node", "bin/conveyor.js"]', /ENTRYPOINT must be/],
    ['dev dependencies installed', 'npm ci --omit=dev', 'npm ci', /npm ci --omit=dev/],
    ['an install in the final stage', 'COPY bin ./bin', 'COPY bin ./bin\nRUN npm ci --omit=dev', /must not install packages/],
    ['no compiled code', 'COPY --from=build /opt/conveyor/dist ./dist', 'COPY client ./client', /must copy the compiled dist/],
    ['a download by URL', 'COPY bin ./bin', 'ADD https://example.com/conveyor.tgz ./\nCOPY bin ./bin', /ADD fetches from a URL/],
    ['TypeScript sources in the image', 'COPY bin ./bin', 'COPY bin ./bin\nCOPY broker ./broker', /must not copy TypeScript sources/],
    ['an unknown setting', 'CONVEYOR_HOST=0.0.0.0', 'CONVEYOR_LISTEN=0.0.0.0', /CONVEYOR_LISTEN is not a setting/],
  ])('%s', (_what, from, to, message) => {
    expect(dockerfile).toContain(from);
    expect(lintDockerfile(dockerfile.replace(from, to))).toContainEqual(expect.stringMatching(message));
  });
});
