// Types of the example script, for the tests that drive it.
export function buildNdviProcess(connection: unknown, options?: { collection?: string; spatialExtent?: unknown; temporalExtent?: string[]; reducer?: 'max' | 'mean'; format?: string }): Promise<unknown>;
export function runBatchJob(connection: unknown, process: unknown, options: { title: string; outDir: string; onStatus?: (info: any) => void; timeoutSeconds?: number }): Promise<{ job: any; files: string[] }>;
