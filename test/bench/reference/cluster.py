"""The reference runs' dask cluster (2 worker processes, 1 thread each, as the benchmark cluster) and their report."""
import json
import threading
import time

import psutil
from distributed import LocalCluster

WORKERS = 2
THREADS_PER_WORKER = 1
MEMORY_SAMPLE_SECONDS = 0.02


def local_cluster() -> LocalCluster:
    return LocalCluster(n_workers=WORKERS, threads_per_worker=THREADS_PER_WORKER, processes=True, dashboard_address=None)


class PeakWorkerMemory:
    """The largest resident set of any worker process while it runs, sampled every 20 ms."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.pids = [w.process.process.pid for w in cluster.workers.values()]
        self.peak = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.watch, daemon=True)

    def watch(self) -> None:
        while not self.stop.is_set():
            for pid in self.pids:
                try:
                    self.peak = max(self.peak, psutil.Process(pid).memory_info().rss)
                except psutil.NoSuchProcess:
                    pass
            time.sleep(MEMORY_SAMPLE_SECONDS)

    def __enter__(self) -> "PeakWorkerMemory":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()


def report(label: str, times: list[float], peak_bytes: int) -> None:
    """A line for people, then one for `npm run bench` (which reads the last line as JSON)."""
    print(f"{label}: runs {', '.join(f'{t:.2f}' for t in times)} s; best {min(times):.2f} s; peak worker memory {peak_bytes / 1e6:.0f} MB")
    print(json.dumps({"runs": times, "best": min(times), "peakWorkerBytes": peak_bytes}))
