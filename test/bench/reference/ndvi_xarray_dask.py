"""
The NDVI benchmark workload on the xarray + dask.distributed stack, for side-by-side timing
with `npm run bench -- workloads`: the same COGs, the same masked NDVI, max and mean over the
dates, both written as GeoTIFF; a local cluster of 2 worker processes with 1 thread each, like
the benchmark cluster.

    python3 test/bench/reference/ndvi_xarray_dask.py [BENCH_DATA_DIR]

Needs xarray (with open_rasterio), dask, distributed and rasterio (Debian: python3-xarray
python3-dask python3-distributed python3-rasterio python3-psutil). Prints the job time of each
run and the peak resident memory of the workers.
"""
import glob
import os
import sys
import tempfile
import time

import dask
import numpy as np
import rasterio
import xarray as xr
from distributed import Client

from cluster import PeakWorkerMemory, local_cluster, report

RUNS = 3
BLOCK = 512
CLOUDY_SCL = [3, 8, 9, 10]


def band(path: str, chunk: int) -> xr.DataArray:
    return xr.open_rasterio(path, chunks={"band": 1, "y": chunk, "x": chunk}).squeeze("band", drop=True)


def composites(scenes: list[str]) -> tuple[xr.DataArray, xr.DataArray]:
    ndvis = []
    for scene in scenes:
        red = band(os.path.join(scene, "B04.tif"), BLOCK)
        nir = band(os.path.join(scene, "B08.tif"), BLOCK)
        # float32 throughout, as the benchmarked back-end computes: half the bytes of float64.
        valid = (red != 0) & (nir != 0)
        red = red.where(valid).astype("float32") * np.float32(0.0001)
        nir = nir.where(valid).astype("float32") * np.float32(0.0001)
        scl = band(os.path.join(scene, "SCL.tif"), BLOCK // 2)
        # SCL is at 20 m: each of its pixels covers 2 x 2 pixels at 10 m (nearest neighbour),
        # repeated chunk by chunk rather than reindexed (which gathers by index).
        cloudy = scl.isin(CLOUDY_SCL).data.repeat(2, axis=0).repeat(2, axis=1)[: red.shape[0], : red.shape[1]]
        clear = xr.DataArray(~cloudy, dims=red.dims, coords=red.coords)
        ndvi = ((nir - red) / (nir + red)).where(clear)
        ndvis.append(ndvi)
    stack = xr.concat(ndvis, dim="t")
    return stack.max("t"), stack.mean("t")


def write(array: np.ndarray, like: str, path: str) -> None:
    with rasterio.open(like) as src:
        profile = src.profile
    profile.update(dtype="float32", nodata=np.nan, compress="deflate", tiled=True, blockxsize=BLOCK, blockysize=BLOCK, predictor=3)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array.astype("float32"), 1)


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "openeo-bench-data")
    scenes = sorted(glob.glob(os.path.join(data_dir, "bench", "s2", "*")))
    if not scenes:
        sys.exit(f"no scenes under {data_dir}/bench/s2: run `npm run bench -- workloads` once to generate them")
    out_dir = tempfile.mkdtemp(prefix="ndvi-xarray-")
    with local_cluster() as cluster, Client(cluster), PeakWorkerMemory(cluster) as memory:
        times = []
        like = os.path.join(scenes[0], "B04.tif")
        for run in range(RUNS):
            start = time.perf_counter()
            maximum, mean = dask.compute(*composites(scenes))
            write(maximum.values, like, os.path.join(out_dir, f"max-{run}.tif"))
            write(mean.values, like, os.path.join(out_dir, f"mean-{run}.tif"))
            times.append(time.perf_counter() - start)
    report("xarray+dask NDVI max+mean", times, memory.peak)


if __name__ == "__main__":
    main()
