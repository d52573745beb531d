import { setTimeout as sleep } from 'node:timers/promises';

/** A small openEO batch-job client over fetch, for tests that steer jobs step by step. */
export class JobClient {
  private constructor(
    readonly url: string,
    private readonly auth: string,
  ) {}

  static async login(url: string, user: string, password: string): Promise<JobClient> {
    const response = await fetch(`${url}/credentials/basic`, { headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
    if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
    const { access_token: token } = (await response.json()) as { access_token: string };
    return new JobClient(url, `Bearer basic//${token}`);
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: { Authorization: this.auth, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.status >= 400) throw new Error(`${method} ${path} → ${response.status}: ${await response.text()}`);
    return response;
  }

  async create(processGraph: Record<string, unknown>, title = 'test job'): Promise<string> {
    const response = await this.request('POST', '/jobs', { title, process: { process_graph: processGraph } });
    return response.headers.get('openeo-identifier')!;
  }

  async start(id: string): Promise<void> {
    await this.request('POST', `/jobs/${id}/results`);
  }

  async cancel(id: string): Promise<void> {
    await this.request('DELETE', `/jobs/${id}/results`);
  }

  async describe(id: string): Promise<{ status: string; progress: number }> {
    return (await (await this.request('GET', `/jobs/${id}`)).json()) as { status: string; progress: number };
  }

  async logs(id: string): Promise<{ level: string; message: string }[]> {
    return ((await (await this.request('GET', `/jobs/${id}/logs`)).json()) as { logs: { level: string; message: string }[] }).logs;
  }

  /** Polls until `predicate` holds for the job; throws after `timeoutMs`. */
  async waitFor(id: string, predicate: (job: { status: string; progress: number }) => boolean, timeoutMs = 120_000, intervalMs = 50): Promise<{ status: string; progress: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = await this.describe(id);
      if (predicate(job)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} at ${job.progress}% after ${timeoutMs} ms; logs: ${JSON.stringify(await this.logs(id))}`);
      await sleep(intervalMs);
    }
  }

  async waitUntilEnded(id: string, timeoutMs = 120_000): Promise<string> {
    const job = await this.waitFor(id, (j) => !['created', 'queued', 'running'].includes(j.status), timeoutMs, 200);
    return job.status;
  }

  /** Downloads the first asset of a finished job. */
  async downloadFirstAsset(id: string): Promise<Uint8Array> {
    const results = (await (await this.request('GET', `/jobs/${id}/results`)).json()) as { assets: Record<string, { href: string }> };
    const asset = Object.values(results.assets)[0];
    if (!asset) throw new Error(`job ${id} has no assets`);
    const response = await fetch(asset.href);
    return new Uint8Array(await response.arrayBuffer());
  }
}
