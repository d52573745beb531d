import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readGeoTiff, readNetcdfVariable, referenceSstMean } from '../helpers/independent.js';
import { JobClient } from '../helpers/job-client.js';
import { freePort, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

/** The predecessor's example graphs, exactly as its users wrote them. */
function seed(name: string): { process: { process_graph: Record<string, unknown> } } {
  return JSON.parse(readFileSync(sharedPath('seed', name), 'utf8'));
}

describeWithShared('the 2020 system\'s process graphs run unchanged', () => {
  let embedded: RoleProcess;
  let client: JobClient;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDir('seed');
    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: dataDir, WORKERS: '2', NATS_URL: '' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    client = await JobClient.login(`http://127.0.0.1:${port}`, 'demo', 'demo');
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
  });

  async function run(name: string): Promise<{ id: string; file: string }> {
    const graph = seed(name).process.process_graph;
    const id = await client.create(graph, name);
    await client.start(id);
    expect(await client.waitUntilEnded(id)).toBe('finished');
    const file = join(dataDir, `${id}.nc`);
    writeFileSync(file, await client.downloadFirstAsset(id));
    return { id, file };
  }

  it('SST.json: the NaN-skipping time mean of the whole globe over the timeframe', async () => {
    const { file } = await run('SST.json');
    const result = await readNetcdfVariable(file, 'sst');
    // The sample holds January 2012, inside the graph's 2012–2014 timeframe.
    const reference = await referenceSstMean(dataDir, { west: -180, south: -90, east: 180, north: 90 }, '2012-01-01', '2014-01-01');
    expect(result.values.length).toBe(720 * 1440);
    expect(Array.from(result.dims.lat!.slice(0, 2))).toEqual(reference.lat.slice(0, 2));
    let worst = 0;
    for (let i = 0; i < reference.values.length; i++) {
      const expected = reference.values[i]!;
      if (Number.isNaN(expected)) expect(Number.isNaN(result.values[i]!)).toBe(true);
      else worst = Math.max(worst, Math.abs(result.values[i]! - expected));
    }
    expect(worst).toBeLessThanOrEqual(1e-6);
  });

  it('Sentinel.json: NDVI of the time-averaged red and near-infrared bands, cloud cover 0–30 %, credentials ignored', async () => {
    const { id, file } = await run('Sentinel.json');
    const result = await readNetcdfVariable(file, 'data');
    const source = JSON.parse(readFileSync(join(dataDir, 'collections', 'SENTINEL2_L2A', 'source.json'), 'utf8')) as { items: { datetime: string; cloudCover: number; assets: Record<string, { href: string }> }[] };
    const items = source.items.filter((i) => i.datetime >= '2020-06-02' && i.datetime < '2020-06-20' && i.cloudCover <= 30);
    expect(items.length).toBe(3);
    const sums = { red: new Float64Array(1536 * 1536), nir: new Float64Array(1536 * 1536), nRed: new Float64Array(1536 * 1536), nNir: new Float64Array(1536 * 1536) };
    for (const item of items) {
      const red = await readGeoTiff(join(dataDir, item.assets.B04!.href));
      const nir = await readGeoTiff(join(dataDir, item.assets.B08!.href));
      for (let i = 0; i < red.values.length; i++) {
        if (red.values[i] !== 0) {
          sums.red[i]! += red.values[i]! * 1e-4;
          sums.nRed[i]!++;
        }
        if (nir.values[i] !== 0) {
          sums.nir[i]! += nir.values[i]! * 1e-4;
          sums.nNir[i]!++;
        }
      }
    }
    let worst = 0;
    let valid = 0;
    for (let i = 0; i < result.values.length; i++) {
      const red = sums.nRed[i] ? sums.red[i]! / sums.nRed[i]! : NaN;
      const nir = sums.nNir[i] ? sums.nir[i]! / sums.nNir[i]! : NaN;
      const expected = (nir - red) / (nir + red);
      if (Number.isNaN(expected)) {
        expect(Number.isNaN(result.values[i]!)).toBe(true);
        continue;
      }
      valid++;
      worst = Math.max(worst, Math.abs(result.values[i]! - expected));
    }
    expect(valid).toBeGreaterThan(result.values.length / 2);
    expect(worst).toBeLessThanOrEqual(1e-6);
    // The Login credentials of the graph are neither stored nor logged.
    const job = await fetch(`${client.url}/jobs/${id}`, { headers: { Authorization: (client as unknown as { auth: string }).auth } }).then((r) => r.text());
    expect(job).not.toContain('bugmenot');
    expect(JSON.stringify(await client.logs(id))).not.toContain('bugmenot');
    expect(embedded.logs.map((l) => JSON.stringify(l)).join('\n')).not.toContain('bugmenot');
    expect(readFileSync(join(dataDir, 'jobs', id, 'job.json'), 'utf8')).not.toContain('bugmenot');
  });
});
