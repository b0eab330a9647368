// deploy/docker/Dockerfile cannot be built here (no container engine), so it is linted: a Node 20
// base, a non-root user, the data directory as a volume, `conveyor` as entrypoint, production
// dependencies only, nothing fetched by URL, settings as known CONVEYOR_* variables, and every
// source directory the `conveyor` command loads at run time copied in (and not dockerignored).
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
  const installs = all.filter((i) => i.keyword === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args));
  if (installs.length === 0 || !installs.every((i) => /\bnpm ci\b/.test(i.args) && /--omit=dev\b/.test(i.args))) problems.push('dependencies must be installed with npm ci --omit=dev');
  for (const add of all.filter((i) => i.keyword === 'ADD')) if (/\b(https?|git):\/\//.test(add.args)) problems.push(`ADD fetches from a URL: ${add.args}`);
  for (const from of froms) if (/:latest$|^[^:]+$/.test(from)) problems.push(`base image ${from} is not pinned to a tag`);
  const settings = new Set(Object.values(PROCESS_SETTINGS).flatMap((schema) => Object.keys(schema).map(envVarName)));
  for (const name of Object.keys(env)) if (name.startsWith('CONVEYOR_') && !settings.has(name)) problems.push(`ENV ${name} is not a setting of any Conveyor process`);
  return problems;
}

/** Top-level directories of the files reachable from bin/conveyor.js through relative module paths in string literals. */
function runtimeDirectories(): Set<string> {
  const seen = new Set<string>();
  const pending = [join(REPO_ROOT, 'bin', 'conveyor.js')];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(/['"](\.{1,2}\/[^'"\s]+\.(?:ts|js|json))['"]/g)) {
      const target = resolve(dirname(file), match[1] as string);
      const candidates = [target, target.replace(/\.js$/, '.ts')];
      const found = candidates.find((c) => existsSync(c));
      if (found !== undefined) pending.push(found);
    }
  }
  return new Set([...seen].map((file) => relative(REPO_ROOT, file).split('/')[0] as string));
}

const dockerfile = readFileSync(DOCKERFILE_PATH, 'utf8');

describe('deploy/docker/Dockerfile', () => {
  test('passes the lint', () => {
    expect(lintDockerfile(dockerfile)).toEqual([]);
  });

  test('copies in every directory the conveyor command loads at run time', () => {
    const copied = new Set(instructions(dockerfile).filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => words(i.args).slice(0, -1)));
    const needed = runtimeDirectories();
    expect(needed).toContain('nameserver');
    expect(needed).toContain('common');
    expect([...needed].filter((dir) => !copied.has(dir))).toEqual([]);
  });

  test('is not undone by .dockerignore, which keeps node_modules and tests out of the context', () => {
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const copied = instructions(dockerfile).filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => words(i.args).slice(0, -1));
    expect(copied.filter((path) => ignored.includes(path))).toEqual([]);
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'test']));
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
    ['a download by URL', 'COPY bin ./bin', 'ADD https://example.com/conveyor.tgz ./\nCOPY bin ./bin', /ADD fetches from a URL/],
    ['an unknown setting', 'CONVEYOR_HOST=0.0.0.0', 'CONVEYOR_LISTEN=0.0.0.0', /CONVEYOR_LISTEN is not a setting/],
  ])('%s', (_what, from, to, message) => {
    expect(dockerfile).toContain(from);
    expect(lintDockerfile(dockerfile.replace(from, to))).toContainEqual(expect.stringMatching(message));
  });
});
