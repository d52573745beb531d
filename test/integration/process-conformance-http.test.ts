import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Value } from '../../api/compiler/values.js';
import { defaultProcessRegistry } from '../../api/processes/index.js';
import { OpenEOError, type OpenEOErrorCode } from '../../common/errors.js';
import { caseName, type CaseOutcome, type Executor, inProcessExecutor, jsonIncompatibility, loadProcessCases, needsDatacube, type ProcessCase, report, runCase } from '../conformance/process-cases.js';
import { login, request } from '../helpers/job-api.js';
import { freePort, type RoleProcess, startRole, tempDir } from '../helpers/processes.js';
import { describeWithShared } from '../helpers/shared.js';

/**
 * The official process test cases over HTTP: every case of every process GET /processes lists
 * that JSON can carry (no data cubes, NaN, infinities or labelled arrays) is sent to POST /result
 * as a one-node process graph. Each must give the outcome it gives in-process, where the
 * conformance suite holds every case to the official expectation (known upstream errata aside).
 */

/** Errors travel as openEO error bodies; runCase compares their codes with the expected ones. */
function httpExecutor(url: string, auth: string): Executor {
  const execute: Executor = async (process, args) => {
    const graph = { p: { process_id: process, arguments: args, result: true } };
    const response = await fetch(`${url}/result`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ process: { process_graph: graph } }) });
    const body = (await response.json()) as Value & { code?: string; message?: string };
    if (response.status === 200) return body;
    throw new OpenEOError(body.code as OpenEOErrorCode, body.message ?? `HTTP ${response.status}`);
  };
  execute.datacubes = false;
  return execute;
}

function travelsAsJson(c: ProcessCase): boolean {
  return !needsDatacube(c) && jsonIncompatibility(c) === null;
}

describeWithShared('openEO process test cases through POST /result', () => {
  let embedded: RoleProcess;
  let url: string;
  let auth: string;

  beforeAll(async () => {
    const port = await freePort();
    embedded = startRole('embedded', { PORT: String(port), DATA_DIR: tempDir('conformance-http'), WORKERS: '1', NATS_URL: '', SAMPLE_DATA: '0' });
    await embedded.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('openEO back-end ready'), 120_000);
    url = `http://127.0.0.1:${port}`;
    auth = await login(url, 'demo', 'demo');
  });

  afterAll(async () => {
    await embedded?.kill('SIGINT');
  });

  it('give the outcomes they give in-process, for every listed process', async () => {
    const listed = new Set(((await request(url, '/processes')).body.processes as { id: string }[]).map((p) => p.id));
    const offered = (id: string): boolean => listed.has(id);
    const overHttp = httpExecutor(url, auth);
    const inProcess = inProcessExecutor(defaultProcessRegistry(), { datacubes: false });
    const cases = [...listed].flatMap((id) => loadProcessCases(id)).filter(travelsAsJson);
    const http: CaseOutcome[] = [];
    const local: CaseOutcome[] = [];
    for (const c of cases) {
      http.push(await runCase(c, overHttp, offered));
      local.push(await runCase(c, inProcess, offered));
    }
    console.log(`plain-JSON cases of ${new Set(cases.map((c) => c.process)).size} listed processes over HTTP: ${report(http)}`);
    const differing = http.filter((o, i) => o.status !== local[i]!.status).map((o, i) => `${caseName(o.case)}: ${o.status} over HTTP (${o.detail ?? ''}), ${local[i]!.status} in-process`);
    expect(differing).toEqual([]);
    expect(http.filter((o) => o.status === 'passed').length).toBeGreaterThan(500);
  });
});
