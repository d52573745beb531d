"""
The SST benchmark workload on the xarray + dask.distributed stack, for side-by-side timing with
`npm run bench -- workloads`: the mean sea-surface temperature over the North Atlantic for the
365(6) days of the benchmark year, from the same Zarr chunks, written as NetCDF; a local cluster
of 2 worker processes with 1 thread each, like the benchmark cluster.

    python3 test/bench/reference/sst_xarray_dask.py [BENCH_DATA_DIR]

The benchmark cube is Zarr v3, which the Debian zarr (2.x) does not read: its chunks (gzip, the
same bytes in both versions) are linked into a Zarr v2 store beside it once.
Needs xarray, dask, distributed, zarr and netCDF4 (Debian: python3-xarray python3-dask
python3-distributed python3-zarr python3-netcdf4 python3-psutil).
"""
import json
import os
import sys
import tempfile
import time

import xarray as xr
from distributed import Client

from cluster import PeakWorkerMemory, local_cluster, report

RUNS = 3
NORTH_ATLANTIC = {"west": -80, "south": 0, "east": 0, "north": 60}


def as_zarr_v2(v3: str, v2: str) -> None:
    if os.path.exists(os.path.join(v2, ".zgroup")):
        return
    os.makedirs(v2, exist_ok=True)
    for name in sorted(os.listdir(v3)):
        meta_path = os.path.join(v3, name, "zarr.json")
        if not os.path.isfile(meta_path):
            continue
        with open(meta_path) as f:
            meta = json.load(f)
        compressor = None
        for codec in meta["codecs"]:
            if codec["name"] == "gzip":
                compressor = {"id": "gzip", "level": codec["configuration"]["level"]}
        dtype = {"float32": "<f4", "float64": "<f8"}[meta["data_type"]]
        target = os.path.join(v2, name)
        os.makedirs(target, exist_ok=True)
        fill = meta["fill_value"]
        with open(os.path.join(target, ".zarray"), "w") as f:
            json.dump({"zarr_format": 2, "shape": meta["shape"], "chunks": meta["chunk_grid"]["configuration"]["chunk_shape"], "dtype": dtype, "compressor": compressor, "fill_value": fill, "order": "C", "filters": None}, f)
        with open(os.path.join(target, ".zattrs"), "w") as f:
            json.dump({**meta.get("attributes", {}), "_ARRAY_DIMENSIONS": meta.get("dimension_names") or [name]}, f)
        chunks = os.path.join(v3, name, "c")
        for root, _, files in os.walk(chunks):
            for file in files:
                source = os.path.join(root, file)
                key = ".".join(os.path.relpath(source, chunks).split(os.sep))
                os.symlink(source, os.path.join(target, key))
    with open(os.path.join(v2, ".zgroup"), "w") as f:
        json.dump({"zarr_format": 2}, f)


def main() -> None:
    data_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(tempfile.gettempdir(), "openeo-bench-data")
    v3 = os.path.join(data_dir, "bench", "oisst.zarr")
    if not os.path.isdir(v3):
        sys.exit(f"no cube at {v3}: run `npm run bench -- workloads` once to generate it")
    v2 = os.path.join(data_dir, "bench", "oisst-v2.zarr")
    as_zarr_v2(v3, v2)
    out_dir = tempfile.mkdtemp(prefix="sst-xarray-")
    box = NORTH_ATLANTIC
    with local_cluster() as cluster, Client(cluster), PeakWorkerMemory(cluster) as memory:
        times = []
        for run in range(RUNS):
            start = time.perf_counter()
            sst = xr.open_zarr(v2)["sst"]
            # Longitudes are stored 0–360°: the box's western half-plane is 280–360°.
            region = sst.sel(lat=slice(box["south"], box["north"]), lon=slice(box["west"] % 360, 360))
            region.mean("time").to_netcdf(os.path.join(out_dir, f"mean-{run}.nc"))
            times.append(time.perf_counter() - start)
    report(f"xarray+dask SST mean of {region.sizes['time']} days, {region.sizes['lat']} x {region.sizes['lon']} px", times, memory.peak)


if __name__ == "__main__":
    main()
