import type { Chunk } from '../../common/chunk.js';

/** What a kernel may use besides its arguments and inputs. */
export interface KernelContext {
  key: string;
  jobId: string;
  /** DATA_DIR: catalog data and job results live below it. */
  dataDir: string;
  /** Checked between blocks of work; a canceled task stops within a second. */
  signal: { readonly aborted: boolean };
}

export interface KernelOutput {
  chunk: Chunk;
  /** Small JSON the scheduler keeps and reports with the job (written files, statistics). */
  meta?: unknown;
}

export type KernelFunction = (args: never, inputs: Chunk[], context: KernelContext) => KernelOutput | Promise<KernelOutput>;

export interface KernelDefinition {
  run: KernelFunction;
  /**
   * `inline` kernels run on the worker's event loop (trivial or I/O-bound work);
   * `thread` kernels run on the worker's thread pool (CPU-bound work).
   */
  placement: 'inline' | 'thread';
}
