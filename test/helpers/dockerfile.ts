import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { REPO_ROOT } from './processes.js';

export const DOCKERFILE = join(REPO_ROOT, 'deploy', 'Dockerfile');
export const DOCKERIGNORE = join(REPO_ROOT, '.dockerignore');

export interface Instruction {
  keyword: string;
  /** Flags such as `--from=build` or `--mount=…`, in order. */
  flags: string[];
  /** The rest of the line: exec-form JSON arrays are parsed, shell form is one string. */
  args: string[];
  raw: string;
}

export interface Stage {
  base: string;
  name: string | null;
  instructions: Instruction[];
}

/** Parses a Dockerfile into stages (continuation lines joined, comments dropped). */
export function parseDockerfile(path = DOCKERFILE): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (/^\s*#/.test(line) && pending === '') continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (full) lines.push(full);
  }
  const stages: Stage[] = [];
  for (const raw of lines) {
    const [keyword = '', ...restParts] = raw.split(/\s+/);
    let rest = restParts.join(' ');
    const flags: string[] = [];
    while (rest.startsWith('--')) {
      const [flag = '', ...others] = rest.split(/\s+/);
      flags.push(flag);
      rest = others.join(' ');
    }
    const upper = keyword.toUpperCase();
    const args = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : upper === 'RUN' ? [rest] : rest.split(/\s+/);
    const instruction: Instruction = { keyword: upper, flags, args, raw };
    if (upper === 'FROM') {
      const as = args.findIndex((a) => a.toUpperCase() === 'AS');
      stages.push({ base: args[0]!, name: as >= 0 ? args[as + 1]! : null, instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`${path}: ${keyword} before FROM`);
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return stages;
}

/** The last instruction of `keyword` in a stage (ENTRYPOINT, CMD, USER, WORKDIR). */
export function lastOf(stage: Stage, keyword: string): Instruction | undefined {
  return stage.instructions.filter((i) => i.keyword === keyword).at(-1);
}

/** The ENV settings of a stage (`ENV A=1 B=2` form). */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const instruction of stage.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const pair of instruction.args) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** .dockerignore patterns (without comments); `!` exceptions are not used by this project. */
export function dockerignorePatterns(path = DOCKERIGNORE): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/^\/+/, '')
    .replace(/\/+$/, '')
    .split('')
    .map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : /[.+^${}()|[\]\\]/.test(c) ? `\\${c}` : c))
    .join('')
    .replace(/\[\^\/\]\*\[\^\/\]\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

/** Whether a context-relative path is excluded by the patterns (a match excludes everything below it). */
export function isIgnored(relativePath: string, patterns: string[]): boolean {
  const parts = relativePath.split(sep);
  const regexps = patterns.map(globToRegExp);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (regexps.some((r) => r.test(prefix))) return true;
  }
  return false;
}

/** Copies `source` (a file or folder inside the build context) to `target` as a COPY would: ignored paths left out. */
export function copyFromContext(contextDir: string, source: string, target: string, patterns: string[]): void {
  const from = join(contextDir, source);
  if (!existsSync(from)) throw new Error(`COPY ${source}: not in the build context`);
  const copyOne = (path: string, to: string): void => {
    const rel = relative(contextDir, path);
    if (rel && isIgnored(rel, patterns)) return;
    if (statSync(path).isDirectory()) {
      mkdirSync(to, { recursive: true });
      for (const entry of readdirSync(path)) copyOne(join(path, entry), join(to, entry));
    } else {
      mkdirSync(dirname(to), { recursive: true });
      cpSync(path, to);
    }
  };
  copyOne(from, target);
}
