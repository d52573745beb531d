import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkHealth, OVERALL_HEALTH } from '../../common/grpc-health.js';
import { containerCommand, containerEnv, containerPort, find, isProjectContainer, type K8sObject, serviceBackends } from './kustomize.js';
import { collectLogs, requireBinary, tempDir } from './processes.js';

/**
 * Runs the pods of rendered manifests as local processes, the way a kubelet would start them:
 * the container's command and env (ConfigMap, Secret, field and resource references resolved),
 * as its user, with PID 1 in its own PID namespace (so an exec preStop hook runs as written).
 * What a cluster's network and storage provide is simulated:
 * - each pod has its own loopback address (127.a.b.c), and "all interfaces" (0.0.0.0) means it;
 * - a Service name in a value (`openeo-scheduler:8786`) becomes its pod's address and target port;
 * - each volume mount is a directory: one per claim (shared by all pods using it), one per emptyDir.
 */

export interface ImageSpec {
  entrypoint: string[];
  cmd: string[];
  /** ENV of the image, under the container's own env. */
  env: Record<string, string>;
  /** Paths the image declares as VOLUME: per-pod directories when nothing is mounted there. */
  volumes: string[];
}

export interface SimulatorOptions {
  namespace: string;
  /** The folder the project's image has at its WORKDIR (the repository, or a production bundle). */
  appDir: string;
  image: ImageSpec;
}

export interface SimulatedPod {
  name: string;
  ip: string;
  workload: K8sObject;
  container: any;
  env: Record<string, string>;
  logs: Record<string, unknown>[];
  /** Host PID of the container's main process (PID 1 inside its namespace). */
  pid(): Promise<number>;
  exited: Promise<number | null>;
  /** Runs a probe of the container spec once; true when it succeeds. */
  probe(kind: 'readinessProbe' | 'livenessProbe' | 'startupProbe'): Promise<boolean>;
  /** Waits until the startup (if any) and readiness probes succeed. */
  waitReady(timeoutMs?: number): Promise<void>;
  waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Prometheus text from the port and path of the pod's prometheus.io annotations. */
  scrape(): Promise<string>;
  /**
   * A pod deletion: the preStop hook, then SIGTERM, SIGKILL after the grace period. Resolves to the
   * exit code, and whether the hook failed (exited non-zero; one killed because its container ended did not).
   */
  terminate(): Promise<{ code: number | null; preStopFailed: boolean }>;
  kill(): void;
}

/** Probe interval while waiting (ms): quicker than Kubernetes' periods, tests wait for the same outcome. */
const PROBE_POLL_MS = 200;

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export class PodSimulator {
  private readonly root: string;
  private readonly subnet: string;
  private nextHost = 2;
  private readonly ips = new Map<string, string>();
  private readonly claimDirs = new Map<string, string>();
  private readonly pods: SimulatedPod[] = [];
  private readonly unshare: string;
  private readonly nsenter: string;

  constructor(
    private readonly objects: K8sObject[],
    private readonly options: SimulatorOptions,
  ) {
    this.unshare = requireBinary('unshare', 'apt-get install -y util-linux');
    this.nsenter = requireBinary('nsenter', 'apt-get install -y util-linux');
    if (!isRoot()) throw new Error('the pod simulator runs pods in their own PID namespaces and as their users: run the tests as root (as CI does)');
    this.root = tempDir('pods');
    chmodSync(this.root, 0o755);
    // A random 127.a.b.0/24 per run, so concurrent runs never share an address.
    this.subnet = `127.${10 + Math.floor(Math.random() * 240)}.${1 + Math.floor(Math.random() * 250)}`;
  }

  get dir(): string {
    return this.root;
  }

  /** The address of a workload's pod (ordinal 0 unless given): fixed once chosen. */
  podIp(workload: string, ordinal = 0): string {
    const key = `${workload}-${ordinal}`;
    let ip = this.ips.get(key);
    if (!ip) {
      ip = `${this.subnet}.${this.nextHost++}`;
      this.ips.set(key, ip);
    }
    return ip;
  }

  /** The directory behind a PersistentVolumeClaim, shared by every pod that mounts it. */
  claimDir(claim: string): string {
    let dir = this.claimDirs.get(claim);
    if (!dir) {
      dir = join(this.root, 'claims', claim);
      this.prepareDir(dir, 1000, 1000);
      this.claimDirs.set(claim, dir);
    }
    return dir;
  }

  /** `http://ip:port` of a Service port, as kube-proxy would forward it. */
  serviceUrl(service: string, portName: string): string {
    const { ip, port } = this.resolveService(service, portName);
    return `http://${ip}:${port}`;
  }

  resolveService(service: string, portRef: string | number): { ip: string; port: number } {
    const object = find(this.objects, 'Service', service);
    const servicePort = object.spec.ports.find((p: any) => p.name === portRef || p.port === portRef);
    if (!servicePort) throw new Error(`Service ${service} has no port ${portRef}`);
    const [backend] = serviceBackends(this.objects, object);
    if (!backend) throw new Error(`Service ${service} selects no workload`);
    const container = backend.spec.template.spec.containers.find((c: any) => containerPort(c, servicePort.targetPort ?? servicePort.port) !== undefined);
    return { ip: this.podIp(backend.metadata.name), port: containerPort(container, servicePort.targetPort ?? servicePort.port)! };
  }

  /** Starts the pod of `workload` with the given ordinal (StatefulSet-like names, also for Deployments). */
  start(workloadName: string, ordinal = 0): SimulatedPod {
    const workload = this.objects.find((o) => (o.kind === 'Deployment' || o.kind === 'StatefulSet') && o.metadata.name === workloadName);
    if (!workload) throw new Error(`no workload ${workloadName}`);
    const podSpec = workload.spec.template.spec;
    if (podSpec.containers.length !== 1) throw new Error(`${workloadName}: one container per pod is simulated`);
    const container = podSpec.containers[0];
    const name = `${workloadName}-${ordinal}`;
    const ip = this.podIp(workloadName, ordinal);
    const podDir = join(this.root, 'pods', name);
    const uid: number = container.securityContext?.runAsUser ?? podSpec.securityContext?.runAsUser ?? 0;
    const gid: number = container.securityContext?.runAsGroup ?? podSpec.securityContext?.runAsGroup ?? uid;
    const fsGroup: number = podSpec.securityContext?.fsGroup ?? gid;
    this.prepareDir(podDir, uid, gid);

    // Volume mounts → directories.
    const mounts: { path: string; dir: string }[] = [];
    for (const mount of container.volumeMounts ?? []) {
      const volume = (podSpec.volumes ?? []).find((v: any) => v.name === mount.name);
      let dir: string;
      if (volume?.persistentVolumeClaim) dir = this.claimDir(volume.persistentVolumeClaim.claimName);
      else if (volume?.emptyDir) dir = join(podDir, 'volumes', mount.name);
      else if ((workload.spec.volumeClaimTemplates ?? []).some((t: any) => t.metadata.name === mount.name)) dir = join(podDir, 'claims', mount.name);
      else throw new Error(`${name}: volume ${mount.name} is not simulated`);
      this.prepareDir(dir, uid, fsGroup);
      mounts.push({ path: mount.mountPath, dir });
    }
    const project = isProjectContainer(container);
    for (const path of project ? this.options.image.volumes : []) {
      if (!mounts.some((m) => m.path === path)) {
        const dir = join(podDir, 'image-volumes', path.replaceAll('/', '_'));
        this.prepareDir(dir, uid, gid);
        mounts.push({ path, dir });
      }
    }
    const translatePath = (value: string): string => {
      for (const mount of mounts) {
        if (value === mount.path || value.startsWith(`${mount.path}/`)) return mount.dir + value.slice(mount.path.length);
      }
      return value;
    };
    const translateAddresses = (value: string): string => {
      let out = value;
      for (const service of this.objects.filter((o) => o.kind === 'Service')) {
        const host = `${service.metadata.name}(?:\\.${this.options.namespace}(?:\\.svc(?:\\.cluster\\.local)?)?)?`;
        out = out.replace(new RegExp(`\\b${host}:(\\d+)\\b`, 'g'), (_whole, port: string) => {
          const target = this.resolveService(service.metadata.name, Number(port));
          return `${target.ip}:${target.port}`;
        });
      }
      return out === '0.0.0.0' ? ip : out;
    };

    const manifestEnv = containerEnv(this.objects, podSpec, container, { podName: name, podIP: ip, namespace: this.options.namespace });
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries({ ...(project ? this.options.image.env : {}), ...manifestEnv })) env[key] = translatePath(translateAddresses(value));
    const command = containerCommand(container, project ? this.options.image : { entrypoint: [], cmd: [] }, manifestEnv).map((part) => {
      const eq = part.indexOf('=');
      return eq > 0 && part.startsWith('--') ? `${part.slice(0, eq + 1)}${translatePath(part.slice(eq + 1))}` : translatePath(part);
    });
    let [executable, ...args] = command as [string, ...string[]];
    if (executable === 'node') executable = process.execPath;
    else executable = requireBinary(executable, `apt-get install -y ${executable}`);
    // NATS listens on all interfaces by default; in its own pod that is the pod's address.
    if (!project && /nats-server$/.test(executable)) args.push(`--addr=${ip}`);

    const child = spawn(this.unshare, ['--pid', '--fork', '--kill-child', `--setgid=${gid}`, `--setuid=${uid}`, executable, ...args], {
      cwd: project ? this.options.appDir : podDir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: podDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const pod = this.watch(name, ip, workload, container, env, child);
    this.pods.push(pod);
    return pod;
  }

  /** Kills every pod still running (test clean-up). */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.pods.map(async (pod) => {
        pod.kill();
        await pod.exited;
      }),
    );
  }

  private prepareDir(dir: string, uid: number, gid: number): void {
    mkdirSync(dir, { recursive: true });
    chownSync(dir, uid, gid);
    chmodSync(dir, 0o775);
  }

  private watch(name: string, ip: string, workload: K8sObject, container: any, env: Record<string, string>, child: ChildProcess): SimulatedPod {
    const { logs, exited, lastLines, waitForLog } = collectLogs(name, child);
    const running = (): boolean => child.exitCode === null && child.signalCode === null;
    const nsenter = this.nsenter;

    // The container's main process: unshare's child, PID 1 in the new namespace.
    const pid = async (): Promise<number> => {
      for (let i = 0; i < 100; i++) {
        try {
          const children = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim();
          if (children) return Number(children.split(/\s+/)[0]);
        } catch {
          // not yet forked
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(`${name}: no container process under unshare ${child.pid}`);
    };

    const probe = async (kind: 'readinessProbe' | 'livenessProbe' | 'startupProbe'): Promise<boolean> => {
      const spec = container[kind];
      if (!spec) return true;
      if (spec.grpc) return (await checkHealth(`${ip}:${spec.grpc.port}`, spec.grpc.service ?? OVERALL_HEALTH)) === 'SERVING';
      if (spec.httpGet) {
        const port = containerPort(container, spec.httpGet.port);
        try {
          const response = await fetch(`http://${ip}:${port}${spec.httpGet.path ?? '/'}`, { signal: AbortSignal.timeout((spec.timeoutSeconds ?? 1) * 1000) });
          await response.arrayBuffer();
          return response.status >= 200 && response.status < 400;
        } catch {
          return false;
        }
      }
      throw new Error(`${name}: ${kind} of this kind is not simulated`);
    };

    const kill = (): void => {
      if (!running()) return;
      void pid().then(
        (p) => {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // gone already
          }
        },
        () => child.kill('SIGKILL'),
      );
    };

    return {
      name,
      ip,
      workload,
      container,
      env,
      logs,
      pid,
      exited,
      probe,
      waitForLog,
      kill,
      async waitReady(timeoutMs = 60_000) {
        const deadline = Date.now() + timeoutMs;
        for (const kind of ['startupProbe', 'readinessProbe'] as const) {
          while (!(await probe(kind))) {
            if (!running()) throw new Error(`${name} exited with ${child.exitCode} before it was ready; last lines:\n${lastLines()}`);
            if (Date.now() > deadline) throw new Error(`${name}: ${kind} did not succeed within ${timeoutMs} ms; last lines:\n${lastLines()}`);
            await new Promise((r) => setTimeout(r, PROBE_POLL_MS));
          }
        }
      },
      async scrape() {
        const annotations = workload.spec.template.metadata.annotations ?? {};
        const response = await fetch(`http://${ip}:${annotations['prometheus.io/port']}${annotations['prometheus.io/path'] ?? '/metrics'}`);
        if (response.status !== 200) throw new Error(`${name}: metrics answered ${response.status}`);
        return response.text();
      },
      async terminate() {
        if (!running()) return { code: await exited, preStopFailed: false };
        const grace = (workload.spec.template.spec.terminationGracePeriodSeconds ?? 30) * 1000;
        const killTimer = setTimeout(kill, grace);
        const main = await pid();
        const preStop = container.lifecycle?.preStop?.exec?.command as string[] | undefined;
        let preStopFailed = false;
        if (preStop) {
          // Run in the container's PID namespace, as the kubelet's exec would; it ends when the container does.
          preStopFailed = await new Promise<boolean>((resolve) => {
            const hook = spawn(nsenter, ['--target', String(main), '--pid', '--', ...preStop], { stdio: 'ignore' });
            hook.once('exit', (code) => resolve(code !== null && code !== 0));
            hook.once('error', () => resolve(true));
          });
        }
        if (running()) {
          try {
            process.kill(main, 'SIGTERM');
          } catch {
            // exited meanwhile
          }
        }
        const code = await exited;
        clearTimeout(killTimer);
        return { code, preStopFailed };
      },
    };
  }
}

/** Reads one sample of a metric (with exact labels) from Prometheus text; undefined when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) found[pair[1]!] = pair[2]!;
    if (Object.keys(labels).length === Object.keys(found).length && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}
