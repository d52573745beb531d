import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { apiConfig, ENVIRONMENT_VARIABLES, schedulerConfig, workerConfig } from '../../common/config.js';
import { OVERALL_HEALTH, SCHEDULER_SERVICE, WORKER_SERVICE } from '../../common/grpc-health.js';
import { METRICS_PATH } from '../../common/metrics.js';
import { schedulerRegistry } from '../../scheduler/metrics.js';
import { SchedulerState } from '../../scheduler/state/scheduler-state.js';
import { lastOf, parseDockerfile, stageEnv } from '../helpers/dockerfile.js';
import {
  containerCommand,
  containerEnv,
  containerPort,
  DEV_OVERLAY_DIR,
  find,
  isProjectContainer,
  K8S_DIR,
  type K8sObject,
  parseQuantity,
  PROJECT_IMAGE,
  renderKustomize,
  selects,
  serviceBackends,
  workloads,
} from '../helpers/kustomize.js';
import { REPO_ROOT } from '../helpers/processes.js';

/** Kubernetes models of every kind the manifests may contain. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'networking.k8s.io/v1/Ingress': Ingress,
};

const NAMESPACE = 'openeo';
const MAIN_SOURCE = readFileSync(join(REPO_ROOT, 'main.ts'), 'utf8');
/** The process's own limit on a graceful stop (main.ts SHUTDOWN_TIMEOUT_MS). */
const SHUTDOWN_TIMEOUT_SECONDS = Number(/SHUTDOWN_TIMEOUT_MS = ([\d_]+)/.exec(MAIN_SOURCE)![1]!.replaceAll('_', '')) / 1000;
const PACKAGE_VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const DESIRED_WORKERS_METRIC = 'openeo_scheduler_desired_workers';

const runtime = parseDockerfile().at(-1)!;
const image = { entrypoint: lastOf(runtime, 'ENTRYPOINT')!.args, cmd: lastOf(runtime, 'CMD')!.args };

/** The component label names the role each project container must run. */
type Role = 'api' | 'scheduler' | 'worker';
const ROLES: Role[] = ['api', 'scheduler', 'worker'];

interface RunningContainer {
  workload: K8sObject;
  pod: any;
  container: any;
  role: Role;
  env: Record<string, string>;
  command: string[];
}

function projectContainers(objects: K8sObject[]): RunningContainer[] {
  const out: RunningContainer[] = [];
  for (const workload of workloads(objects)) {
    const pod = workload.spec.template.spec;
    for (const container of pod.containers.filter(isProjectContainer)) {
      const role = workload.spec.template.metadata.labels['app.kubernetes.io/component'] as Role;
      const env = containerEnv(objects, pod, container, { podName: `${workload.metadata.name}-0`, podIP: '10.1.2.3', namespace: NAMESPACE });
      out.push({ workload, pod, container, role, env, command: containerCommand(container, image, env) });
    }
  }
  return out;
}

/** Ports each role's process listens on, computed by the code's own configuration functions. */
function listenPorts(role: Role, env: Record<string, string>): { host: string; service: number; metrics: number | null } {
  switch (role) {
    case 'scheduler': {
      const c = schedulerConfig(env);
      return { host: c.host, service: c.port, metrics: c.metricsPort };
    }
    case 'worker': {
      const c = workerConfig(env);
      return { host: c.host, service: c.port, metrics: c.metricsPort };
    }
    case 'api': {
      const c = apiConfig(env);
      return { host: c.host, service: c.port, metrics: c.metricsPort };
    }
  }
}

/** Resolves `service:port` (optionally namespace-qualified) to the workload behind it and the container port. */
function resolveServiceAddress(objects: K8sObject[], host: string, port: number): { workload: K8sObject; containerPort: number } {
  const name = host.replace(new RegExp(`\\.${NAMESPACE}(\\.svc(\\.cluster\\.local)?)?$`), '');
  const service = find(objects, 'Service', name);
  const servicePort = service.spec.ports.find((p: any) => p.port === port);
  expect(servicePort, `${host}:${port}: the Service has no port ${port}`).toBeTruthy();
  const [workload] = serviceBackends(objects, service);
  expect(workload, `Service ${name} selects no pods`).toBeTruthy();
  const container = workload!.spec.template.spec.containers.find((c: any) => containerPort(c, servicePort.targetPort ?? port) !== undefined);
  expect(container, `Service ${name} port ${port}: targetPort ${servicePort.targetPort} is no container port`).toBeTruthy();
  return { workload: workload!, containerPort: containerPort(container, servicePort.targetPort ?? port)! };
}

describe.each([
  ['base (kubectl apply -k deploy/k8s)', K8S_DIR],
  ['dev overlay', DEV_OVERLAY_DIR],
])('Kubernetes manifests: %s', (_label, dir) => {
  const objects = renderKustomize(dir);
  const containers = projectContainers(objects);

  it('has every part, each a valid object of its kind', () => {
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name.replace(/-[a-z0-9]{10}$/, '')}`).sort();
    expect(kinds).toEqual(
      [
        'ConfigMap/openeo-settings',
        'Deployment/openeo-api',
        'Deployment/openeo-scheduler',
        'Deployment/openeo-worker',
        'HorizontalPodAutoscaler/openeo-worker',
        'Ingress/openeo',
        'Namespace/openeo',
        'PersistentVolumeClaim/openeo-data',
        'Secret/openeo-credentials',
        'Service/openeo-api',
        'Service/openeo-nats',
        'Service/openeo-scheduler',
        'StatefulSet/openeo-nats',
      ].sort(),
    );
    for (const object of objects) {
      const Model = MODELS[`${object.apiVersion}/${object.kind}`];
      expect(Model, `no model for ${object.apiVersion} ${object.kind}`).toBeTruthy();
      expect(() => new Model!(object).validate(), `${object.kind} ${object.metadata.name}`).not.toThrow();
    }
    for (const object of objects.filter((o) => o.kind !== 'Namespace')) expect(object.metadata.namespace, `${object.kind} ${object.metadata.name}`).toBe(NAMESPACE);
  });

  it('selectors match pod labels; every Service reaches named container ports', () => {
    for (const workload of workloads(objects)) {
      expect(selects(workload.spec.selector.matchLabels, workload.spec.template.metadata.labels), workload.metadata.name).toBe(true);
      // No two workloads share pods.
      const others = workloads(objects).filter((w) => w !== workload && selects(workload.spec.selector.matchLabels, w.spec.template.metadata.labels));
      expect(others.map((w) => w.metadata.name)).toEqual([]);
    }
    for (const service of objects.filter((o) => o.kind === 'Service')) {
      const backends = serviceBackends(objects, service);
      expect(backends.length, `Service ${service.metadata.name}`).toBe(1);
      for (const port of service.spec.ports) resolveServiceAddress(objects, service.metadata.name, port.port);
    }
    const nats = find(objects, 'StatefulSet', 'openeo-nats');
    expect(serviceBackends(objects, find(objects, 'Service', nats.spec.serviceName))).toEqual([nats]);
    const ingressBackend = find(objects, 'Ingress', 'openeo').spec.rules[0].http.paths[0].backend.service;
    const apiService = find(objects, 'Service', ingressBackend.name);
    expect(apiService.spec.ports.some((p: any) => p.name === ingressBackend.port.name)).toBe(true);
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'openeo-worker');
    expect(find(objects, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name).spec.template.metadata.labels['app.kubernetes.io/component']).toBe('worker');
  });

  it("runs the Dockerfile's image with each component's role, as an unprivileged user; every env name is one the code reads", () => {
    expect(containers.map((c) => c.role).sort()).toEqual([...ROLES].sort());
    for (const { workload, pod, container, role, env, command } of containers) {
      expect(container.image, workload.metadata.name).toMatch(new RegExp(`^${PROJECT_IMAGE}:[\\w.-]+$`));
      expect(command, workload.metadata.name).toEqual(['node', 'dist/main.js', role]);
      expect(MAIN_SOURCE).toContain(`case '${role}'`);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(container.securityContext.allowPrivilegeEscalation).toBe(false);
      const names = Object.keys(env);
      expect(names.filter((n) => !(ENVIRONMENT_VARIABLES as readonly string[]).includes(n)), `${workload.metadata.name}: env the code does not read`).toEqual([]);
    }
    // The base image's tag is the package version; the dev overlay's is built locally.
    const tags = new Set(containers.map((c) => c.container.image.split(':')[1]));
    expect([...tags]).toEqual([dir === K8S_DIR ? PACKAGE_VERSION : 'dev']);
  });

  it('ports and probes point at what each process listens on (its configuration read the way the code reads it)', () => {
    for (const { workload, pod, container, role, env } of containers) {
      const name = workload.metadata.name;
      const listen = listenPorts(role, env);
      expect(listen.host, `${name} must listen on all interfaces of its pod`).toBe('0.0.0.0');
      expect(listen.metrics, `${name} serves metrics`).not.toBeNull();
      const declared = (container.ports as { name: string; containerPort: number }[]).map((p) => p.containerPort).sort();
      expect(declared, name).toEqual([listen.service, listen.metrics!].sort());
      expect(containerPort(container, 'metrics')).toBe(listen.metrics);
      const annotations = workload.spec.template.metadata.annotations ?? {};
      expect(annotations['prometheus.io/scrape']).toBe('true');
      expect(Number(annotations['prometheus.io/port'])).toBe(listen.metrics);
      expect(annotations['prometheus.io/path']).toBe(METRICS_PATH);
      const probes = [container.readinessProbe, container.livenessProbe, container.startupProbe].filter(Boolean);
      expect(container.readinessProbe && container.livenessProbe, `${name} has readiness and liveness probes`).toBeTruthy();
      for (const probe of probes) {
        if (role === 'api') {
          expect(probe.httpGet.path).toBe('/');
          expect(containerPort(container, probe.httpGet.port)).toBe(listen.service);
        } else {
          expect(probe.grpc.port, name).toBe(listen.service);
          const services = role === 'scheduler' ? [OVERALL_HEALTH, SCHEDULER_SERVICE] : [OVERALL_HEALTH, WORKER_SERVICE];
          expect(services).toContain(probe.grpc.service ?? OVERALL_HEALTH);
        }
      }
      if (role === 'worker') {
        // Readiness: registered and not retiring; liveness must hold while it retires.
        expect(container.readinessProbe.grpc.service ?? OVERALL_HEALTH).toBe(OVERALL_HEALTH);
        expect(container.livenessProbe.grpc.service).toBe(WORKER_SERVICE);
      }
      expect(pod.containers.length).toBe(1);
    }
  });

  it('settings point at the Services: SCHEDULER_ADDRESS reaches the scheduler, NATS_URL the NATS client port', () => {
    for (const { workload, role, env } of containers) {
      const scheduler = /^([^:]+):(\d+)$/.exec(env.SCHEDULER_ADDRESS ?? '');
      if (role !== 'scheduler') {
        expect(scheduler, `${workload.metadata.name}: SCHEDULER_ADDRESS`).toBeTruthy();
        const target = resolveServiceAddress(objects, scheduler![1]!, Number(scheduler![2]));
        expect(target.workload.metadata.name).toBe('openeo-scheduler');
        const schedulerEnv = containers.find((c) => c.role === 'scheduler')!.env;
        expect(target.containerPort).toBe(schedulerConfig(schedulerEnv).port);
      }
      const nats = new URL(env.NATS_URL ?? '');
      const target = resolveServiceAddress(objects, nats.hostname, Number(nats.port));
      expect(target.workload.metadata.name).toBe('openeo-nats');
      const natsContainer = target.workload.spec.template.spec.containers[0];
      expect(natsContainer.args).toContain(`--port=${target.containerPort}`);
      expect(natsContainer.args).toContain('--jetstream');
    }
  });

  it('NATS keeps JetStream on a PersistentVolumeClaim', () => {
    const nats = find(objects, 'StatefulSet', 'openeo-nats');
    const container = nats.spec.template.spec.containers[0];
    const storeDir = (container.args as string[]).find((a) => a.startsWith('--store_dir='))!.split('=')[1]!;
    const claim = nats.spec.volumeClaimTemplates[0];
    const mount = container.volumeMounts.find((m: any) => m.name === claim.metadata.name);
    expect(storeDir.startsWith(mount.mountPath)).toBe(true);
    expect(parseQuantity(claim.spec.resources.requests.storage)).toBeGreaterThan(0);
    expect(containerPort(container, container.readinessProbe.httpGet.port)).toBe(8222);
  });

  it('workers: threads and memory limit from their resource limits, a preStop that starts retiring, time enough to retire, autoscaled on desired workers', () => {
    const worker = containers.find((c) => c.role === 'worker')!;
    const { limits, requests } = worker.container.resources;
    const config = workerConfig(worker.env);
    expect(config.memoryLimit).toBe(parseQuantity(limits.memory));
    expect(config.threads).toBe(Math.ceil(parseQuantity(limits.cpu)));
    expect(parseQuantity(requests.memory)).toBe(parseQuantity(limits.memory));
    expect(config.advertiseHost, 'peers reach a worker at its pod IP').toBe('10.1.2.3');
    expect(config.name).toBe('openeo-worker-0');
    expect(worker.workload.spec.replicas, 'the autoscaler owns the replica count').toBeUndefined();
    // preStop sends SIGTERM to PID 1 (node, by the exec-form entrypoint) and waits for it to exit.
    const preStop = worker.container.lifecycle.preStop.exec.command as string[];
    expect(preStop.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(preStop[2]).toMatch(/^kill -TERM 1\b/);
    expect(preStop[2]).toContain('kill -0 1');
    expect(worker.pod.terminationGracePeriodSeconds).toBeGreaterThan(SHUTDOWN_TIMEOUT_SECONDS);

    const hpa = find(objects, 'HorizontalPodAutoscaler', 'openeo-worker');
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(hpa.spec.metrics).toHaveLength(1);
    const [metric] = hpa.spec.metrics;
    expect(metric.type).toBe('External');
    expect(metric.external.metric.name).toBe(DESIRED_WORKERS_METRIC);
    expect(metric.external.target).toEqual({ type: 'AverageValue', averageValue: '1' });
    const { registry, close } = schedulerRegistry(new SchedulerState());
    expect(registry.getSingleMetric(DESIRED_WORKERS_METRIC), 'the scheduler exports the metric').toBeTruthy();
    close();
    const adapter = readFileSync(join(K8S_DIR, 'prometheus-adapter-values.yaml'), 'utf8');
    expect(parseYaml(adapter).rules.external[0].seriesQuery).toContain(DESIRED_WORKERS_METRIC);
  });

  it('data and results: one shared claim mounted at DATA_DIR by the API and every worker', () => {
    const claim = find(objects, 'PersistentVolumeClaim', 'openeo-data');
    expect(claim.spec.accessModes).toEqual([dir === K8S_DIR ? 'ReadWriteMany' : 'ReadWriteOnce']);
    for (const role of ['api', 'worker'] as const) {
      const c = containers.find((x) => x.role === role)!;
      const volume = c.pod.volumes.find((v: any) => v.persistentVolumeClaim?.claimName === 'openeo-data');
      expect(volume, `${role} mounts openeo-data`).toBeTruthy();
      const mount = c.container.volumeMounts.find((m: any) => m.name === volume.name);
      expect(mount.mountPath).toBe(c.env.DATA_DIR);
      expect(c.pod.securityContext.fsGroup, `${role} can write the volume`).toBeDefined();
    }
    const worker = containers.find((x) => x.role === 'worker')!;
    const spill = worker.container.volumeMounts.find((m: any) => m.mountPath === worker.env.WORKER_SPILL_DIR);
    expect(worker.pod.volumes.find((v: any) => v.name === spill.name).emptyDir).toBeTruthy();
  });

  it('credentials come from the Secret, settings from the ConfigMap', () => {
    const api = containers.find((c) => c.role === 'api')!;
    expect(api.container.envFrom.some((s: any) => s.secretRef?.name.startsWith('openeo-credentials'))).toBe(true);
    expect(api.env.ACCOUNTS).toMatch(/^[^:,]+:.+/);
    expect(api.env.RESULT_SIGNING_KEY!.length).toBeGreaterThanOrEqual(32);
    for (const c of containers) expect(c.container.envFrom.some((s: any) => s.configMapRef?.name.startsWith('openeo-settings'))).toBe(true);
    // Credentials are not in the ConfigMap, and only the API reads them.
    const settings = objects.find((o) => o.kind === 'ConfigMap')!;
    expect(Object.keys(settings.data)).not.toContain('ACCOUNTS');
    for (const c of containers.filter((x) => x.role !== 'api')) expect(c.env.ACCOUNTS).toBeUndefined();
  });
});

describe('deploy/Dockerfile and deploy/docker-compose.yml', () => {
  const stages = parseDockerfile();

  it('builds in one stage and runs production dependencies as a non-root user in a small Node 20 image', () => {
    expect(stages).toHaveLength(2);
    const [build, run] = stages as [(typeof stages)[0], (typeof stages)[0]];
    expect(build.name).toBe('build');
    expect(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args[0]!) && !/--omit=dev/.test(i.args[0]!))).toBe(true);
    expect(build.instructions.some((i) => i.keyword === 'RUN' && /\bnpm run build\b/.test(i.args[0]!))).toBe(true);
    for (const stage of stages) expect(stage.base).toMatch(/^node:20(\.\d+)*-[a-z]+-slim$/);
    expect(run.instructions.some((i) => i.keyword === 'RUN' && /\bnpm ci\b.*--omit=dev/.test(i.args[0]!))).toBe(true);
    expect(run.instructions.some((i) => i.keyword === 'COPY' && i.flags.includes('--from=build') && i.args[0] === '/app/dist')).toBe(true);
    expect(lastOf(run, 'USER')!.args).toEqual(['node']);
    expect(lastOf(run, 'WORKDIR')!.args).toEqual(['/app']);
    expect(image.entrypoint).toEqual(['node', 'dist/main.js']);
    expect(ROLES).toContain(image.cmd[0]);
    expect(stageEnv(run).NODE_ENV).toBe('production');
  });

  it('docker compose: NATS with JetStream, the scheduler, the API and two workers sharing the data volume', () => {
    const compose = parseYaml(readFileSync(join(REPO_ROOT, 'deploy', 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, any>; volumes: Record<string, unknown> };
    const services = compose.services;
    expect(Object.keys(services).sort()).toEqual(['api', 'nats', 'scheduler', 'worker-1', 'worker-2']);
    expect(services.nats.command).toContain('--jetstream');
    for (const [name, service] of Object.entries(services).filter(([n]) => n !== 'nats')) {
      const role = name.replace(/-\d+$/, '');
      expect(service.command, name).toEqual([role]);
      expect(service.image).toBe(`${PROJECT_IMAGE}:${PACKAGE_VERSION}`);
      expect(service.build.dockerfile).toBe('deploy/Dockerfile');
      const env = service.environment as Record<string, string>;
      expect(Object.keys(env).filter((n) => !(ENVIRONMENT_VARIABLES as readonly string[]).includes(n)), `${name}: env the code does not read`).toEqual([]);
      expect(new URL(env.NATS_URL!).hostname).toBe('nats');
      if (role !== 'scheduler') {
        expect(env.SCHEDULER_ADDRESS).toBe(`scheduler:${schedulerConfig(services.scheduler.environment).port}`);
        expect(service.volumes).toContain(`data:${env.DATA_DIR}`);
      }
      if (role === 'worker') {
        expect(env.WORKER_ADVERTISE_HOST).toBe(name);
        expect(parseInt(service.stop_grace_period, 10)).toBeGreaterThan(SHUTDOWN_TIMEOUT_SECONDS);
        expect(workerConfig(env).memoryLimit).toBeLessThanOrEqual(parseQuantity(service.mem_limit.replace(/g$/, 'Gi')));
      }
    }
    expect(Object.keys(compose.volumes)).toContain('data');
  });
});
