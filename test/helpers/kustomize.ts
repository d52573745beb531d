import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, requireBinary } from './processes.js';

export const K8S_DIR = join(REPO_ROOT, 'deploy', 'k8s');
export const DEV_OVERLAY_DIR = join(K8S_DIR, 'overlays', 'dev');
/** Image name the manifests and docker-compose use for the project's image (deploy/Dockerfile). */
export const PROJECT_IMAGE = 'openeo-dask';

/** A rendered Kubernetes object; fields are read as the tests need them. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: any;
}

/** Oldest kustomize (built into kubectl) that knows every field the manifests use (`labels` came with v4.1). */
export const MIN_KUSTOMIZE_MAJOR = 4;

/** `kubectl kustomize DIR`, parsed. kubectl is required: the manifests are checked with the tool users apply them with. */
export function renderKustomize(dir: string): K8sObject[] {
  const kubectl = requireBinary('kubectl', 'apt-get install -y kubernetes-client');
  const version = (JSON.parse(execFileSync(kubectl, ['version', '--client', '-o', 'json'], { encoding: 'utf8' })) as { kustomizeVersion?: string }).kustomizeVersion ?? 'v0';
  if (Number(/^v?(\d+)/.exec(version)?.[1] ?? 0) < MIN_KUSTOMIZE_MAJOR) {
    throw new Error(`${kubectl} bundles kustomize ${version}; the manifests need v${MIN_KUSTOMIZE_MAJOR} or later: install kubectl 1.21 or newer (https://kubernetes.io/docs/tasks/tools/)`);
  }
  const text = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8' });
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} "${name}" in the rendered manifests`);
  return found;
}

/** Deployments and StatefulSets: the objects that run pods. */
export function workloads(objects: K8sObject[]): K8sObject[] {
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
}

export function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The workloads whose pods a Service selects. */
export function serviceBackends(objects: K8sObject[], service: K8sObject): K8sObject[] {
  return workloads(objects).filter((w) => selects(service.spec.selector, w.spec.template.metadata.labels));
}

/** A container port by name or number. */
export function containerPort(container: any, port: string | number): number | undefined {
  const ports: { name?: string; containerPort: number }[] = container.ports ?? [];
  if (typeof port === 'number') return ports.find((p) => p.containerPort === port)?.containerPort;
  return ports.find((p) => p.name === port)?.containerPort;
}

/** Whether the container runs the project's image. */
export function isProjectContainer(container: { image?: string }): boolean {
  return (container.image ?? '').split(':')[0]!.split('/').at(-1) === PROJECT_IMAGE;
}

const DECIMAL_SUFFIX: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };
const BINARY_SUFFIX: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };

/** A Kubernetes resource quantity (`500m`, `4Gi`, `1e3`) as a number. */
export function parseQuantity(quantity: string | number): number {
  if (typeof quantity === 'number') return quantity;
  const match = /^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$/.exec(quantity.trim());
  if (!match) throw new Error(`not a quantity: "${quantity}"`);
  const factor = BINARY_SUFFIX[match[2]!] ?? DECIMAL_SUFFIX[match[2]!];
  if (factor === undefined) throw new Error(`unknown quantity suffix in "${quantity}"`);
  return Number(match[1]) * factor;
}

/** What the kubelet fills in for one pod: its name, IP and the directories behind its volume mounts. */
export interface PodContext {
  podName: string;
  podIP: string;
  namespace: string;
}

function configData(objects: K8sObject[], kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> {
  const object = find(objects, kind, name);
  if (kind === 'ConfigMap') return { ...(object.data ?? {}) };
  const decoded: Record<string, string> = { ...(object.stringData ?? {}) };
  for (const [k, v] of Object.entries<string>(object.data ?? {})) decoded[k] = Buffer.from(v, 'base64').toString('utf8');
  return decoded;
}

/** `$(VAR)` references expanded from variables defined earlier, as Kubernetes does for env, command and args. */
export function expandReferences(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string) => env[name] ?? whole);
}

/** The environment a container starts with: envFrom first, then env (ConfigMap and Secret values, field and resource references resolved). */
export function containerEnv(objects: K8sObject[], pod: any, container: any, context: PodContext): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    const prefix: string = source.prefix ?? '';
    if (source.configMapRef) for (const [k, v] of Object.entries(configData(objects, 'ConfigMap', source.configMapRef.name))) env[prefix + k] = v;
    if (source.secretRef) for (const [k, v] of Object.entries(configData(objects, 'Secret', source.secretRef.name))) env[prefix + k] = v;
  }
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = expandReferences(String(variable.value), env);
      continue;
    }
    const from = variable.valueFrom;
    if (from?.configMapKeyRef) env[variable.name] = configData(objects, 'ConfigMap', from.configMapKeyRef.name)[from.configMapKeyRef.key]!;
    else if (from?.secretKeyRef) env[variable.name] = configData(objects, 'Secret', from.secretKeyRef.name)[from.secretKeyRef.key]!;
    else if (from?.fieldRef) env[variable.name] = fieldValue(from.fieldRef.fieldPath, context);
    else if (from?.resourceFieldRef) env[variable.name] = resourceValue(pod, from.resourceFieldRef);
    else throw new Error(`env ${variable.name}: unsupported source ${JSON.stringify(from)}`);
  }
  return env;
}

function fieldValue(path: string, context: PodContext): string {
  switch (path) {
    case 'metadata.name':
      return context.podName;
    case 'metadata.namespace':
      return context.namespace;
    case 'status.podIP':
      return context.podIP;
    default:
      throw new Error(`fieldRef ${path} is not simulated`);
  }
}

/** A resourceFieldRef's value: the limit (or request) divided by the divisor, rounded up, as the kubelet does. */
function resourceValue(pod: any, ref: { containerName?: string; resource: string; divisor?: string }): string {
  const container = pod.containers.find((c: any) => c.name === ref.containerName) ?? pod.containers[0];
  const [kind, resource] = ref.resource.split('.') as ['limits' | 'requests', string];
  const quantity = container.resources?.[kind]?.[resource];
  if (quantity === undefined) throw new Error(`${container.name}: resourceFieldRef ${ref.resource} needs ${kind}.${resource} set`);
  return String(Math.ceil(parseQuantity(quantity) / parseQuantity(ref.divisor ?? '1')));
}

/** The command line a container runs: command/args, or the image's ENTRYPOINT/CMD where unset (Kubernetes' rules). */
export function containerCommand(container: any, image: { entrypoint: string[]; cmd: string[] }, env: Record<string, string>): string[] {
  const command: string[] = container.command ?? image.entrypoint;
  const args: string[] = container.args ?? (container.command ? [] : image.cmd);
  return [...command, ...args].map((part) => expandReferences(part, env));
}
