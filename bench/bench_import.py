"""Import throughput on the real IKEA catalogue: validation, image normalisation, cut-out, image
and text embeddings, SQLite writes.

Runs the import twice into fresh folders, in the same process: the baseline (one worker thread,
batches of 8) and the default configuration (2 worker threads, batches of 64), and prints
products/s by wall clock and by CPU time (the machine is shared: the CPU-time figure says what
2 uncontended cores would do), with the time per stage.

    .venv/bin/python -m bench.bench_import               # all 685 products
    .venv/bin/python -m bench.bench_import --limit 100   # quick
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_once(csv_path: Path, images_dir: Path, workers: int, batch: int, threads: int) -> dict:
    import torch

    from catalog.embeddings import ImageEmbedder, TextEmbedder
    from catalog.importer import CatalogImporter
    from catalog.store import Catalog

    torch.set_num_threads(threads)
    tmp = Path(tempfile.mkdtemp(prefix="restyle_bench_import_"))
    try:
        imp = CatalogImporter(Catalog(tmp / "catalog"), ImageEmbedder(), TextEmbedder(), workers=workers, batch_size=batch)
        imp.text_embedder.embed(["warm up"])
        imp.image_embedder.embed([__import__("PIL.Image", fromlist=["Image"]).new("RGB", (64, 64))])
        cpu0, t0 = time.process_time(), time.perf_counter()
        rep = imp.import_file(csv_path, images_dir=images_dir)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        return {"n": rep.accepted, "rejected": len(rep.rejected), "wall": wall, "cpu": cpu,
                "timings": rep.timings, "flagged": len(rep.flagged_cutouts)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--limit", type=int, default=0, help="import only the first N products (0 = all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-baseline", action="store_true")
    args = ap.parse_args(argv)

    src = Path(args.data) / "ikea" / "catalogue.csv"
    csv_path = src
    if args.limit:
        tmpcsv = Path(tempfile.mkdtemp()) / "catalogue.csv"
        with open(src) as f, open(tmpcsv, "w", newline="") as g:
            r = csv.reader(f)
            w = csv.writer(g)
            for i, row in enumerate(r):
                if i > args.limit:
                    break
                w.writerow(row)
        csv_path = tmpcsv
    load = os.getloadavg()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} at start; "
          f"torch threads {args.threads}")
    configs = [] if args.skip_baseline else [("baseline: 1 worker, batch 8", 1, 8)]
    configs.append(("default: 2 workers, batch 64", 2, 64))
    rows = []
    for label, workers, batch in configs:
        r = run_once(csv_path, src.parent, workers, batch, args.threads)
        rows.append((label, r))
    print(f"\n{'configuration':<32}{'products':>9}{'wall s':>8}{'prod/s':>8}{'CPU s':>8}{'prod/CPU-s x2':>15}")
    for label, r in rows:
        print(f"{label:<32}{r['n']:>9}{r['wall']:>8.1f}{r['n'] / r['wall']:>8.1f}{r['cpu']:>8.1f}"
              f"{2 * r['n'] / r['cpu']:>15.1f}")
    print("\nstage wall-clock seconds (default configuration): "
          + ", ".join(f"{k} {v:.1f}" for k, v in rows[-1][1]["timings"].items()))
    print(f"cut-outs flagged for review: {rows[-1][1]['flagged']}; load average now {os.getloadavg()[0]:.1f}")
    print("prod/CPU-s x2 = products per CPU-second times 2 cores: the rate 2 idle cores would reach.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
