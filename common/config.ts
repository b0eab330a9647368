// Configuration: defaults < config file (YAML or JSON) < CONVEYOR_* environment < flags.
// Every setting is declared once in a schema; loading validates all of them and reports every
// problem at once, each naming the setting and where its value came from.
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import YAML from 'yaml';
import { ConveyorError, ErrorCode } from './errors.js';

/** `flag` overrides the flag spelling derived from the setting name (e.g. brokerName ↔ --name). */
type SettingSpec =
  | { kind: 'string'; default?: string; description: string; flag?: string; pattern?: RegExp; patternHint?: string; secret?: boolean }
  | { kind: 'int'; default?: number; description: string; flag?: string; min?: number; max?: number }
  | { kind: 'bool'; default?: boolean; description: string; flag?: string }
  | { kind: 'enum'; default?: string; description: string; flag?: string; values: readonly string[] }
  | { kind: 'list'; default?: string[]; description: string; flag?: string };

export type Schema = Record<string, SettingSpec>;

type ValueOf<S extends SettingSpec> = S extends { kind: 'string' }
  ? string
  : S extends { kind: 'int' }
    ? number
    : S extends { kind: 'bool' }
      ? boolean
      : S extends { kind: 'enum'; values: readonly (infer V)[] }
        ? V
        : S extends { kind: 'list' }
          ? string[]
          : never;

export type ConfigOf<S extends Schema> = { [K in keyof S]: ValueOf<S[K]> };

interface ConfigSources {
  /** Values from command-line flags, keyed by setting name; undefined = not given. */
  flags?: Record<string, unknown>;
  /** Usually process.env; keys CONVEYOR_<UPPER_SNAKE of the setting name>. */
  env?: NodeJS.ProcessEnv;
  /** Path of a YAML/JSON file whose top-level keys are setting names. */
  file?: string;
}

/** `httpPort` → `CONVEYOR_HTTP_PORT`. */
export function envVarName(setting: string): string {
  return `CONVEYOR_${setting.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/** `httpPort` → `--http-port`, unless the spec names its flag. */
export function flagName(setting: string, spec?: SettingSpec): string {
  return spec?.flag ?? `--${setting.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase()}`;
}

function parseValue(spec: SettingSpec, raw: unknown): { value?: unknown; problem?: string } {
  switch (spec.kind) {
    case 'string': {
      if (typeof raw !== 'string' && typeof raw !== 'number') return { problem: 'must be a string' };
      const s = String(raw);
      if (spec.pattern && !spec.pattern.test(s)) return { problem: `'${s}' is not valid: ${spec.patternHint ?? `must match ${spec.pattern}`}` };
      return { value: s };
    }
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
      if (!Number.isSafeInteger(n)) return { problem: `'${String(raw)}' is not a whole number` };
      if (spec.min !== undefined && n < spec.min) return { problem: `${n} is below the minimum ${spec.min}` };
      if (spec.max !== undefined && n > spec.max) return { problem: `${n} is above the maximum ${spec.max}` };
      return { value: n };
    }
    case 'bool': {
      if (typeof raw === 'boolean') return { value: raw };
      const s = String(raw).trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return { value: true };
      if (['false', '0', 'no', 'off'].includes(s)) return { value: false };
      return { problem: `'${String(raw)}' is not a boolean (true/false)` };
    }
    case 'enum': {
      const s = String(raw);
      if (!spec.values.includes(s)) return { problem: `'${s}' is not one of ${spec.values.join(', ')}` };
      return { value: s };
    }
    case 'list': {
      const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
      return { value: items.map((s) => s.trim()).filter((s) => s.length > 0) };
    }
  }
}

function readFile(path: string, problems: string[]): Record<string, unknown> {
  try {
    const parsed: unknown = YAML.parse(readFileSync(path, 'utf8'));
    if (parsed === null || parsed === undefined) return {};
    if (typeof parsed !== 'object' || Array.isArray(parsed)) {
      problems.push(`config file ${path}: must hold a mapping of setting names to values`);
      return {};
    }
    return parsed as Record<string, unknown>;
  } catch (err) {
    problems.push(`config file ${path}: ${err instanceof Error ? err.message : String(err)}`);
    return {};
  }
}

/**
 * Loads and validates a configuration. Throws CONFIG_INVALID listing every problem (field
 * `problems`, newline-separated) when any setting is bad, unknown (in a file) or missing.
 */
export function loadConfig<S extends Schema>(schema: S, sources: ConfigSources): ConfigOf<S> {
  const problems: string[] = [];
  const fileValues = sources.file ? readFile(sources.file, problems) : {};
  for (const key of Object.keys(fileValues)) {
    if (!(key in schema)) problems.push(`config file ${sources.file}: unknown setting '${key}'`);
  }
  const env = sources.env ?? {};
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const candidates: Array<[string, unknown]> = [
      [`flag ${flagName(name, spec)}`, sources.flags?.[name]],
      [`environment ${envVarName(name)}`, env[envVarName(name)]],
      [`config file key '${name}'`, fileValues[name]],
    ];
    const found = candidates.find(([, v]) => v !== undefined && v !== null);
    if (!found) {
      if (spec.default === undefined) problems.push(`${name}: required (set ${flagName(name, spec)} or ${envVarName(name)})`);
      else out[name] = spec.default;
      continue;
    }
    const [where, raw] = found;
    const { value, problem } = parseValue(spec, raw);
    if (problem) problems.push(`${name} (from ${where}): ${problem}`);
    else out[name] = value;
  }
  if (problems.length > 0) {
    throw new ConveyorError(ErrorCode.CONFIG_INVALID, `invalid configuration:\n  - ${problems.join('\n  - ')}`, { problems: problems.join('\n') });
  }
  return out as ConfigOf<S>;
}

/** The effective config with secret settings redacted, for the one start-up log line. */
export function redactConfig<S extends Schema>(schema: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(config)) {
    const spec = schema[name];
    out[name] = spec && spec.kind === 'string' && spec.secret ? '***' : value;
  }
  return out;
}

/** Settings every process has. */
export const COMMON_SETTINGS = {
  config: { kind: 'string', default: '', description: 'path of a YAML/JSON config file' },
  logLevel: { kind: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'], description: 'log level' },
  host: { kind: 'string', default: '0.0.0.0', description: 'address to listen on' },
  advertisedHost: { kind: 'string', default: '127.0.0.1', description: 'host name or address others use to reach this process (a stable DNS name in Kubernetes)' },
} as const satisfies Schema;

/**
 * Parses a process's command line into flag values keyed by setting name, one flag per setting of
 * the schema (`flagName`, help naming the env variable and default). No flag has a default of its
 * own, so environment and config file apply when a flag is not given. Booleans take an optional
 * value: `--auto-create-topics` alone means true.
 */
export function parseSettingFlags(commandName: string, description: string, schema: Schema, args: string[]): Record<string, unknown> {
  const program = new Command(commandName).description(description).allowExcessArguments(false);
  const settingOf = new Map<string, string>();
  for (const [name, spec] of Object.entries(schema)) {
    const shown = 'values' in spec ? ` (${spec.values.join('|')})` : '';
    const required = spec.default === undefined ? ' (required)' : `; default ${JSON.stringify(spec.default)}`;
    const option = new Option(`${flagName(name, spec)} ${spec.kind === 'bool' ? '[value]' : '<value>'}`, `${spec.description}${shown}; env ${envVarName(name)}${required}`);
    settingOf.set(option.attributeName(), name);
    program.addOption(option);
  }
  program.parse(args, { from: 'user' });
  const flags: Record<string, unknown> = {};
  for (const [attribute, value] of Object.entries(program.opts<Record<string, unknown>>())) {
    const setting = settingOf.get(attribute);
    if (setting !== undefined) flags[setting] = value;
  }
  return flags;
}
