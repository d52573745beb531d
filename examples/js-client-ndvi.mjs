#!/usr/bin/env node
// Cloud-masked NDVI maximum composite with the openEO JavaScript client:
// connect, log in, build the process graph, run it as a batch job, wait, download.
//
//   node examples/js-client-ndvi.mjs [http://localhost:8080] [out-dir]
//
// The embedded default (`npm start`) accepts user "demo", password "demo".
import { OpenEO } from '@openeo/js-client';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Seconds between status checks while the job runs. */
const POLL_INTERVAL_SECONDS = 1;

/** Builds the graph with the client's builder: SCL cloud mask, NDVI, max over time, GeoTIFF. Returns the result node. */
export async function buildNdviProcess(connection, { collection = 'SENTINEL2_L2A', spatialExtent = null, temporalExtent = ['2020-06-01', '2020-07-01'], reducer = 'max', format = 'GTiff' } = {}) {
  const builder = await connection.buildProcess();
  const cube = builder.load_collection(collection, spatialExtent, temporalExtent, ['B04', 'B08', 'SCL']);
  const maskedNdvi = function (data) {
    const scl = data['SCL'];
    const cloudy = this.or(this.or(this.eq(scl, 8), this.eq(scl, 9)), this.or(this.eq(scl, 10), this.eq(scl, 3)));
    return this.if(this.not(cloudy), this.normalized_difference(data['B08'], data['B04']));
  };
  const ndvi = builder.reduce_dimension(cube, maskedNdvi, 'bands');
  const composite = builder.reduce_dimension(ndvi, function (data) { return this[reducer](data); }, 't');
  return builder.save_result(composite, format);
}

/** Runs `process` as a batch job and downloads its results; returns the downloaded files and the final job. */
export async function runBatchJob(connection, process, { title, outDir, onStatus = () => {}, timeoutSeconds = 600 }) {
  const job = await connection.createJob(process, title);
  await job.startJob();
  const deadline = Date.now() + timeoutSeconds * 1000;
  let info = await job.describeJob();
  while (info.status === 'created' || info.status === 'queued' || info.status === 'running') {
    onStatus(info);
    if (Date.now() > deadline) throw new Error(`job ${job.id} still ${info.status} after ${timeoutSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_SECONDS * 1000));
    info = await job.describeJob();
  }
  if (info.status !== 'finished') {
    const logs = await job.debugJob().nextLogs();
    throw new Error(`job ${job.id} ended ${info.status}: ${logs.map((l) => l.message).join('; ')}`);
  }
  // The client writes into the folder but does not create it.
  await mkdir(outDir, { recursive: true });
  const files = await job.downloadResults(outDir);
  return { job: info, files: files ?? [] };
}

async function main() {
  const url = process.argv[2] ?? 'http://localhost:8080';
  const outDir = process.argv[3] ?? 'ndvi-results';
  const connection = await OpenEO.connect(url);
  await connection.authenticateBasic(process.env.OPENEO_USER ?? 'demo', process.env.OPENEO_PASSWORD ?? 'demo');
  const ndvi = await buildNdviProcess(connection);
  const { job, files } = await runBatchJob(connection, ndvi, {
    title: 'NDVI max composite',
    outDir,
    onStatus: (info) => console.log(`${info.status} ${info.progress ?? 0}%`),
  });
  console.log(`job ${job.id} finished; downloaded ${files.join(', ')}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error.message);
    process.exit(1);
  });
}
