"""Benchmark: catalogue previews, products x scenes per second, in-process vs a local Ray with
2 workers, on the same workload in the same run (the in-process run is the baseline).

    .venv/bin/python -m bench.bench_preview                      # 50 IKEA products x 10 IKEA rooms
    .venv/bin/python -m bench.bench_preview --products 10 --scenes 3   # quick
    .venv/bin/python -m bench.bench_preview --faces 5 --shades 10      # add lipsticks on CC0 faces

Real data comes from ../shared/data (read, never copied: cut-outs and runs go to a temporary
folder). Prints the machine, the figures per executor, whether the two manifests are identical
(timings excluded) and Ray's overhead on one machine: start-up, and wall time beyond the ideal
(in-process time / workers).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Same variable as tests/conftest.py; popped so the settings do not reject it as unknown.
SHARED = Path(os.environ.pop("RESTYLE_SHARED_DATA", None) or REPO.parent / "shared" / "data")
ROOM_CATEGORIES = ("sofa", "armchair", "chair", "table", "lamp", "rug", "storage", "shelf", "bed", "mirror", "cushion")


def ikea_products(n: int) -> list:
    """``n`` IKEA products, round-robin over categories (so every category is represented)."""
    from catalog.products import Product

    rows = list(csv.DictReader(open(SHARED / "ikea" / "catalogue.csv", encoding="utf-8")))
    by_cat: dict[str, list[dict]] = {}
    for r in rows:
        by_cat.setdefault(r["category"], []).append(r)
    out, i = [], 0
    while len(out) < n and any(i < len(v) for v in by_cat.values()):
        for cat in ROOM_CATEGORIES:
            if len(out) < n and i < len(by_cat.get(cat, [])):
                r = by_cat[cat][i]
                out.append(Product(id=f"ikea-{r['product_id']}", title=r["name"].title(), category=cat,
                                   color_name=r["color"] or None, image_path=str(SHARED / "ikea" / r["image"])))
        i += 1
    return out


def lipsticks(n: int) -> list:
    from catalog.products import Product

    rows = list(csv.DictReader(open(SHARED / "shades" / "lipstick_ovilia" / "lipstick.csv", encoding="utf-8")))
    out = []
    for r in rows:
        if len(out) >= n:
            break
        try:
            out.append(Product(id=f"lip-{len(out):03d}", title=f"{r['brand_en']} {r['shade_id']}", category="makeup",
                               makeup_type="lipstick", shade_hex=r["hex"], shade_name=f"shade {r['shade_id']}",
                               finish="satin", brand=r["brand_en"]))
        except ValueError:
            continue
    return out


def scenes(n_rooms: int, n_faces: int) -> list:
    from pipelines.preview.sources import discover_scenes

    out = discover_scenes(SHARED / "ikea" / "rooms", "room", n_rooms) if n_rooms else []
    if n_faces:
        out += discover_scenes(SHARED / "faces" / "cc0" / "images", "face", n_faces)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--products", type=int, default=50, help="furniture products (default 50)")
    ap.add_argument("--scenes", type=int, default=10, help="room scenes (default 10)")
    ap.add_argument("--faces", type=int, default=0, help="face scenes (default 0)")
    ap.add_argument("--shades", type=int, default=0, help="lipstick shades for the faces (default 0)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--renderer", help="MODULE:CALLABLE instead of the default room/face renderers")
    ap.add_argument("--keep", help="keep the run folders here (to look at the contact sheets)")
    args = ap.parse_args(argv)
    if not (SHARED / "ikea").is_dir():
        print(f"bench_preview: real data not found at {SHARED}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(1)  # one core per worker, the same for both executors
    from app.settings import apply_offline_defaults, load_settings
    from pipelines.preview.cli import renderer_factory_from_arg
    from pipelines.preview.engine import PreviewRunner
    from pipelines.preview.manifest import load_manifest
    from pipelines.preview.sources import ensure_cutouts
    from pipelines.preview.types import stable_view

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_preview_"))
    work.mkdir(parents=True, exist_ok=True)
    settings = load_settings(data_dir=work / "data")
    apply_offline_defaults(settings)
    t = time.perf_counter()
    products, problems = ensure_cutouts(ikea_products(args.products), work / "cutouts")
    products += lipsticks(args.shades) if args.faces else []
    cut_s = time.perf_counter() - t
    sc = scenes(args.scenes, args.faces)
    factory = renderer_factory_from_arg(args.renderer, settings)
    results = {}
    for name in ("in-process", f"ray x{args.workers}"):
        run_dir = work / ("local" if name == "in-process" else "ray")
        shutil.rmtree(run_dir, ignore_errors=True)
        init_s = 0.0
        if name.startswith("ray"):
            import ray

            t = time.perf_counter()
            ray.init(num_cpus=args.workers, include_dashboard=False, object_store_memory=200 * 1024**2, logging_level="ERROR")
            init_s = time.perf_counter() - t
        s = PreviewRunner(run_dir, factory, retries=1).run(
            products, sc, executor="local" if name == "in-process" else "ray", num_workers=args.workers, batch_size=args.batch_size
        )
        if name.startswith("ray"):
            ray.shutdown()
        results[name] = (s, init_s, [stable_view(r) for r in load_manifest(run_dir)])
    (local, _, a), (remote, init_s, b) = results.values()
    same = a == b
    ndiff = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
    ideal = local.elapsed_s / args.workers
    print(f"\nbench_preview  machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    print(f"workload: {len([p for p in products if not p.makeup_type])} furniture + {len([p for p in products if p.makeup_type])} shades x "
          f"{len(sc)} scenes = {local.total} units (cut-outs made beforehand in {cut_s:.1f}s{', problems: ' + str(len(problems)) if problems else ''})")
    print(f"backends: {sorted({r['backend'] for r in a if r['backend']})}")
    print(f"{'executor':<14}{'units':>7}{'ok':>6}{'skip':>6}{'fail':>6}{'wall s':>9}{'units/s':>9}{'ok/s':>8}")
    for name, (s, init, _) in results.items():
        wall = s.elapsed_s + init
        print(f"{name:<14}{s.total:>7}{s.ok:>6}{s.skipped:>6}{s.failed:>6}{wall:>9.1f}{s.total / wall:>9.2f}{s.ok / wall:>8.2f}")
    print(f"manifests identical (timings and worker ids excluded): {same}" + ("" if same else f" ({ndiff} records differ)"))
    wall_ray = remote.elapsed_s + init_s
    print(f"Ray overhead on one machine: start-up {init_s:.1f}s (ray.init) ; wall {wall_ray:.1f}s vs ideal {ideal:.1f}s "
          f"(in-process / {args.workers}) = {wall_ray - ideal:+.1f}s; speed-up {local.elapsed_s / wall_ray:.2f}x with {args.workers} workers")
    print(f"run folders: {work}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
