import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth, WORKER_SERVICE } from '../../common/grpc-health.js';
import { copyFromContext, dockerignorePatterns, type Instruction, isIgnored, lastOf, parseDockerfile, stageEnv } from '../helpers/dockerfile.js';
import { K8S_DIR, renderKustomize } from '../helpers/kustomize.js';
import { metricValue, PodSimulator, type SimulatedPod } from '../helpers/pod-simulator.js';
import { REPO_ROOT, tempDir } from '../helpers/processes.js';

/**
 * There is no Docker engine here, so the image is checked by doing what deploy/Dockerfile does:
 * the build stage's steps in a copy of the build context (.dockerignore applied), the runtime
 * stage's steps in a clean folder (`npm ci --omit=dev`, the built dist/ copied over), and then
 * every role started from that folder with the environment the Kubernetes manifests give it.
 */

/** The image's user: `node` of the official Node images has uid 1000. */
const IMAGE_USER_UID: Record<string, number> = { node: 1000 };

const stages = parseDockerfile();
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;
const patterns = dockerignorePatterns();

function workdir(stage: typeof build): string {
  return lastOf(stage, 'WORKDIR')!.args[0]!;
}

/** Runs a stage's instructions with `root` standing for its WORKDIR. `run` decides what each RUN does. */
function replay(stage: typeof build, root: string, run: (instruction: Instruction) => void, copyFrom: (source: string) => string): void {
  for (const instruction of stage.instructions) {
    if (instruction.keyword !== 'COPY') {
      if (instruction.keyword === 'RUN') run(instruction);
      continue;
    }
    const from = instruction.flags.find((f) => f.startsWith('--from='));
    const sources = instruction.args.slice(0, -1);
    const destination = join(root, instruction.args.at(-1)!);
    for (const source of sources) {
      const target = sources.length > 1 || instruction.args.at(-1)!.endsWith('/') ? join(destination, source.split('/').at(-1)!) : destination;
      if (from) copyFromContext('/', copyFrom(source).slice(1), target, []);
      else if (source === '.') copyFromContext(REPO_ROOT, '.', root, patterns);
      else copyFromContext(REPO_ROOT, source, target, patterns);
    }
  }
}

/** Runs a RUN line's shell command; a failure carries the command's output. */
function sh(command: string, cwd: string, env: NodeJS.ProcessEnv = process.env): void {
  try {
    execFileSync('sh', ['-c', command], { cwd, stdio: 'pipe', env, timeout: 300_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`RUN ${command} failed:\n${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`);
  }
}

function npmCi(command: string, cwd: string): void {
  // The same command; offline-first only makes the local npm cache count (the image build has its cache mount).
  sh(command, cwd, { ...process.env, npm_config_prefer_offline: 'true' });
}

describe('production bundle: the Dockerfile runtime stage, built and started the way the manifests run it', () => {
  let buildDir: string;
  let appDir: string;
  let simulator: PodSimulator;
  const pods: Record<string, SimulatedPod> = {};
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    const base = tempDir('image');
    buildDir = join(base, 'build');
    appDir = join(base, 'app');
    mkdirSync(buildDir);
    mkdirSync(appDir);

    // Build stage: `npm ci` installs exactly the lockfile the repository's node_modules was installed
    // from, so that tree is linked rather than installed twice; the rest runs as written.
    let started = Date.now();
    replay(
      build,
      buildDir,
      (instruction) => {
        const command = instruction.args[0]!;
        if (/^npm ci\b/.test(command)) symlinkSync(join(REPO_ROOT, 'node_modules'), join(buildDir, 'node_modules'), 'dir');
        else sh(command, buildDir);
      },
      (source) => source,
    );
    timings.buildStageSeconds = (Date.now() - started) / 1000;

    // Runtime stage.
    started = Date.now();
    replay(
      runtime,
      appDir,
      (instruction) => {
        const command = instruction.args[0]!;
        if (/^npm ci\b/.test(command)) return npmCi(command, appDir);
        // Anything else may only prepare directories of the image (the simulator makes them per pod).
        for (const part of command.split('&&')) expect(part.trim()).toMatch(/^(mkdir|chown)\s/);
      },
      (source) => {
        expect(source.startsWith(`${workdir(build)}/`), `COPY --from=build ${source}`).toBe(true);
        return join(buildDir, source.slice(workdir(build).length + 1));
      },
    );
    timings.runtimeStageSeconds = (Date.now() - started) / 1000;
    execFileSync('chmod', ['-R', 'a+rX', base]);

    const objects = renderKustomize(K8S_DIR);
    simulator = new PodSimulator(objects, {
      namespace: 'openeo',
      appDir,
      image: {
        entrypoint: lastOf(runtime, 'ENTRYPOINT')!.args,
        cmd: lastOf(runtime, 'CMD')!.args,
        env: stageEnv(runtime),
        volumes: runtime.instructions.filter((i) => i.keyword === 'VOLUME').flatMap((i) => i.args),
      },
    });
  }, 600_000);

  afterAll(async () => {
    await simulator?.stopAll();
    console.log(`[timings] production bundle: ${JSON.stringify(timings)}`);
  });

  it('leaves sources and local state out of the build context', () => {
    for (const path of ['node_modules', 'dist', 'data', '.git', 'proto/generated']) expect(isIgnored(path, patterns), path).toBe(true);
    for (const path of ['package.json', 'package-lock.json', 'tsconfig.json', 'proto/scheduler.proto', 'main.ts', 'api/main.ts']) expect(isIgnored(path, patterns), path).toBe(false);
    expect(existsSync(join(buildDir, 'dist', 'main.js'))).toBe(true);
    expect(readdirSync(buildDir)).not.toContain('data');
  });

  it('holds production dependencies only, the compiled code and the protocol', () => {
    const pkg = JSON.parse(readFileSync(join(appDir, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const name of Object.keys(pkg.dependencies)) expect(existsSync(join(appDir, 'node_modules', name)), name).toBe(true);
    // The lockfile marks what only development needs (vitest, typescript, …): none of it in the image.
    const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([path, entry]) => entry.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path));
    expect(devOnly.length).toBeGreaterThan(10);
    for (const [path] of devOnly) expect(existsSync(join(appDir, path)), `${path} (development only) in the image`).toBe(false);
    expect(existsSync(join(appDir, 'dist', 'main.js'))).toBe(true);
    expect(existsSync(join(appDir, 'proto', 'scheduler.proto'))).toBe(true);
    for (const absent of ['api', 'scheduler', 'worker', 'test', 'deploy', 'tsconfig.json']) expect(existsSync(join(appDir, absent)), absent).toBe(false);
    const user = lastOf(runtime, 'USER')!.args[0]!;
    expect(IMAGE_USER_UID[user], `USER ${user} is not root`).toBeGreaterThan(0);
  });

  it('starts every role from the bundle as the image user, with the manifests\' environment; probes and metrics answer', async () => {
    const started = Date.now();
    pods.nats = simulator.start('openeo-nats');
    await pods.nats.waitReady();
    pods.scheduler = simulator.start('openeo-scheduler');
    await pods.scheduler.waitReady();
    pods.worker = simulator.start('openeo-worker');
    pods.api = simulator.start('openeo-api');
    await Promise.all([pods.worker.waitReady(), pods.api.waitReady(120_000)]);
    timings.rolesReadySeconds = (Date.now() - started) / 1000;

    const uid = IMAGE_USER_UID[lastOf(runtime, 'USER')!.args[0]!];
    for (const name of ['scheduler', 'worker', 'api'] as const) {
      const pod = pods[name]!;
      const status = readFileSync(`/proc/${await pod.pid()}/status`, 'utf8');
      expect(status, `${name} runs as uid ${uid}`).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, 'm'));
      expect(await pod.probe('livenessProbe'), `${name} liveness`).toBe(true);
      const metrics = await pod.scrape();
      expect(metrics).toContain(`openeo_${name}_process_resident_memory_bytes`);
    }
    // The probes the manifests declare, answered by the real services.
    expect(await checkHealth(`${pods.scheduler!.ip}:8786`)).toBe('SERVING');
    expect(await checkHealth(`${pods.worker!.ip}:8788`)).toBe('SERVING');
    expect(await checkHealth(`${pods.worker!.ip}:8788`, WORKER_SERVICE)).toBe('SERVING');
    const root = await fetch(simulator.serviceUrl('openeo-api', 'http'));
    expect(root.status).toBe(200);
    expect(((await root.json()) as { api_version: string }).api_version).toMatch(/^1\.\d+/);
    expect(metricValue(await pods.scheduler!.scrape(), 'openeo_scheduler_workers', { status: 'running' })).toBe(1);
    // The API prepared the sample collections on the shared data volume.
    expect(readdirSync(simulator.claimDir('openeo-data'))).toContain('samples');
  });

  it('a worker stopped as Kubernetes stops it (preStop, then SIGTERM) retires and exits 0', async () => {
    expect(await pods.worker!.terminate()).toEqual({ code: 0, preStopFailed: false });
    await pods.worker!.waitForLog((l) => l.msg === 'retiring');
    await pods.scheduler!.waitForLog((l) => l.msg === 'worker retired');
    expect(metricValue(await pods.scheduler!.scrape(), 'openeo_scheduler_workers', { status: 'running' })).toBe(0);
    for (const name of ['api', 'scheduler'] as const) expect((await pods[name]!.terminate()).code, name).toBe(0);
    await pods.nats!.terminate();
  });
});
