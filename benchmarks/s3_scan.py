"""Corpus scan from object storage: files per second with 1 and 2 probing processes, and S3
requests per file, against the same scan of the same files in a local folder (measured in this run).

The store is a local S3-compatible server (moto's server on 127.0.0.1, in its own process so it
does not share this one's interpreter lock), so the figures measure our code path (listing, one ranged GET per PCM header,
``storage.PROBE_REQUESTS_IN_FLIGHT`` of them in flight per probing process, worker processes
building their own filesystem), not a network: on a real bucket each GET adds the endpoint's
latency, which the GETs in flight together hide. ``--in-flight 1`` measures one GET at a time. The corpus is the user-manifest corpus of
``benchmarks/scan.py`` (``--files`` short WAVs at mixed rates). Requests are counted in the
scanning process with ``--workers 1`` (worker processes have their own clients).

    python benchmarks/s3_scan.py --files 20000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from s3_server import CREDENTIALS, RequestCounter, moto_process  # noqa: E402
from scan import make_corpus  # noqa: E402

from ser_pipeline import storage  # noqa: E402
from ser_pipeline.corpora import read_corpus  # noqa: E402
from ser_pipeline.corpora.base import ScanSettings  # noqa: E402


def timed_scan(root, workers: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    tables = read_corpus("manifest", root, scan=ScanSettings(workers=workers))
    return time.perf_counter() - t0, len(tables.manifest)


def start_server():
    """moto's S3 server in its own process on a free 127.0.0.1 port: ``(process, endpoint)``."""
    return moto_process()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--in-flight", type=int, default=storage.PROBE_REQUESTS_IN_FLIGHT,
                    help="header GETs in flight per probing process (worker processes fork with it)")
    args = ap.parse_args()
    storage.PROBE_REQUESTS_IN_FLIGHT = args.in_flight
    proc, endpoint = start_server()
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, **CREDENTIALS})
    import fsspec

    fs = fsspec.filesystem("s3")
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "manifest"
        local.mkdir()
        make_corpus(local, args.files)
        fs.mkdir("bench")
        url = "s3://bench/manifest"
        t0 = time.perf_counter()
        fs.put(str(local) + "/", "bench/manifest/", recursive=True)
        print(f"uploaded {args.files} files in {time.perf_counter() - t0:.1f} s")
        results = {}
        for workers in (1, 2):
            t_local, n_local = timed_scan(local, workers)
            counter = RequestCounter().install() if workers == 1 else None
            t_s3, n_s3 = timed_scan(url, workers)
            assert n_s3 == n_local == args.files, (n_s3, n_local)
            results[workers] = (t_local, t_s3)
            line = (f"workers={workers}: local {n_local / t_local:,.0f} files/s, s3 {n_s3 / t_s3:,.0f} files/s "
                    f"(s3/local time {t_s3 / t_local:.2f}x)")
            if counter is not None:
                per_file = {k: v / args.files for k, v in sorted(counter.counts.items())}
                line += f"; requests per file {counter.total / args.files:.4f} " + \
                        ", ".join(f"{k} {v:.4f}" for k, v in per_file.items())
            print(line)
    proc.terminate()
    t1, t2 = results[1][1], results[2][1]
    print(f"in_flight={args.in_flight} s3_files_per_s_1proc={args.files / t1:.0f} "
          f"s3_files_per_s_2proc={args.files / t2:.0f} speedup_2proc={t1 / t2:.2f}")


if __name__ == "__main__":
    main()
