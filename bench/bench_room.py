"""Benchmark: N swap combinations for a 1024-px room photo on the CPU default.

Goal (issue 4): 20 combinations, p50 <= 1.5 s on 2 cores, measured against a naive baseline in
the same run: the same products pasted at the item's box with no erase, no harmonisation, no
shadow and no fidelity figures.

    .venv/bin/python -m bench.bench_room            # 20 combinations, 5 repeats, demo living room
    .venv/bin/python -m bench.bench_room --quick    # 5 combinations, 2 repeats
    .venv/bin/python -m bench.bench_room --room ../shared/data/ikea/rooms/X.jpg --box 285,335,935,690

The catalogue is drawn by our own code (20 sofas) and imported through the real importer and
index into a temporary folder. Each repeat uses a fresh copy of the room analysis (so the erase
fill is recomputed); the catalogue side (cut-outs, product vectors) stays warm, as in a server.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _catalogue(root: Path, n: int, embedder):
    from app.settings import load_settings
    from catalog.importer import CatalogImporter
    from catalog.search import CatalogSearch
    from catalog.store import Catalog
    from pipelines.room.demo import render_demo_product

    settings = load_settings(data_dir=root / "data")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        col = tuple(int(v) for v in rng.integers(30, 220, 3))
        path = root / f"sofa{i}.png"
        render_demo_product("sofa", col, seed=i).save(path)
        rows.append({"id": f"sofa-{i}", "title": f"Bench sofa {i}", "category": "sofa", "price": 300 + i,
                     "currency": "EUR", "url": f"https://example.com/sofa/{i}", "image": str(path)})
    cat = Catalog.open(settings)
    report = CatalogImporter(cat, embedder, None).import_rows(rows, base_dir=root)
    if report.accepted != n:
        raise SystemExit(f"catalogue import failed: {report.summary()}")
    return cat, CatalogSearch(cat, embedder, settings=settings)


def naive_paste(room: np.ndarray, cutouts: list[Image.Image], box) -> list[Image.Image]:
    """The baseline: each cut-out resized into the item's box and alpha-pasted, nothing else."""
    from pipelines.room.composite import Sprite, fit_standing, paste

    out = []
    for cut in cutouts:
        sp = Sprite.from_rgba(cut)
        w, h = fit_standing(sp.size, box)
        canvas = room.astype(np.float32)
        paste(canvas, sp.resized(w, h), int((box[0] + box[2]) / 2 - w / 2), int(box[3] - h))
        out.append(Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20, help="combinations per request")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="5 combinations, 2 repeats")
    ap.add_argument("--room", default=str(REPO / "assets" / "rooms" / "living.jpg"))
    ap.add_argument("--box", default=None, help="x0,y0,x1,y1 of the item to swap (default: the demo sofa)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (1 is faster than 2 on a busy 2-core machine: measured both)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.repeats = 5, 2

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from catalog.embeddings import ImageEmbedder
    from pipelines.intake import load_image
    from pipelines.room import ClassicalSegmenter, CombinationRequest, RoomPipeline
    from pipelines.room.labels import FurnitureLabeler

    embedder = ImageEmbedder()
    small = ImageEmbedder(size=128)
    with tempfile.TemporaryDirectory() as tmp:
        cat, search = _catalogue(Path(tmp), args.n, embedder)
        pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedder), search=search, catalog=cat,
                            embedder=embedder, similarity_embedder=small)
        room = pipe.prepare(args.room)
        if args.box:
            box = tuple(int(v) for v in args.box.split(","))
        else:
            truth = json.loads((REPO / "assets" / "rooms" / "rooms.json").read_text())["living.jpg"]
            box = tuple(next(g["box"] for g in truth if g["label"] == "sofa"))
        t0 = time.perf_counter()
        analysis = pipe.detect_items(room)
        t_detect = time.perf_counter() - t0
        item = pipe.refine_item(room, analysis, box=box, label="sofa")
        req = CombinationRequest(mode="swap_similar", item_ids=[item.id], n=args.n, seed=0)

        def fresh():
            a = copy.copy(analysis)
            a.__dict__.pop("_cache", None)
            return a

        times, stages = [], []
        first = None
        for r in range(args.repeats + 1):
            a = fresh()
            t0 = time.perf_counter()
            cs = pipe.combinations(room, a, req)
            dt = time.perf_counter() - t0
            if r == 0:
                first = dt  # cold: cut-outs decoded, product vectors computed
                continue
            times.append(dt)
            stages.append(cs.timings)
        n_made = len(cs.combinations)
        # Baseline, same products, same run.
        cutouts = [load_image(pipe._cutout_path(cat.get(c.products[0]["id"])), mode="RGBA") for c in cs.combinations]
        arr = np.asarray(room)
        base = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            naive_paste(arr, cutouts, item.box)
            base.append(time.perf_counter() - t0)
        sims = [c.fidelity["product_similarity"][0] for c in cs.combinations]
        ssim = [c.fidelity["ssim_outside"] for c in cs.combinations]

    p50 = statistics.median(times)
    stage_p50 = {k: statistics.median(s[k] for s in stages) for k in stages[0]}
    print(f"machine: {platform.platform()} | {platform.processor() or platform.machine()} | "
          f"CPUs {os.cpu_count()} | torch threads {args.threads} | load avg {os.getloadavg()[0]:.2f}")
    print(f"room {Path(args.room).name} at {room.size[0]}x{room.size[1]}, item box {item.box}, "
          f"{n_made} combinations per request, {args.repeats} repeats")
    print()
    print(f"| {'what':44} | {'p50 s':>7} | {'min s':>7} | {'max s':>7} | {'per combo ms':>12} |")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 14}|")
    print(f"| {'restyle composite (erase+harmonise+shadow+fidelity)':44.44} | {p50:7.3f} | {min(times):7.3f} | {max(times):7.3f} | {1000 * p50 / n_made:12.1f} |")
    for k in ("plan", "render", "fidelity"):
        print(f"| {'  stage: ' + k:44} | {stage_p50[k]:7.3f} | {'':7} | {'':7} | {1000 * stage_p50[k] / n_made:12.1f} |")
    print(f"| {'first request (cold caches)':44} | {first:7.3f} | {'':7} | {'':7} | {1000 * first / n_made:12.1f} |")
    print(f"| {'baseline: naive paste, no harmonisation':44} | {statistics.median(base):7.3f} | {min(base):7.3f} | {max(base):7.3f} | {1000 * statistics.median(base) / n_made:12.1f} |")
    print(f"| {'detect_items (once per photo, not in goal)':44} | {t_detect:7.3f} | {'':7} | {'':7} | {'':12} |")
    print()
    goal = 1.5 * n_made / 20
    print(f"goal p50 <= {goal:.2f} s for {n_made} combinations: {'MET' if p50 <= goal else 'NOT MET'} "
          f"({p50 / statistics.median(base):.1f}x the naive baseline)")
    print(f"fidelity: ssim_outside min {min(ssim):.4f}; product_similarity median {statistics.median(sims):.3f} "
          f"(min {min(sims):.3f})")
    if args.json:
        Path(args.json).write_text(json.dumps({"p50": p50, "first": first, "baseline_p50": statistics.median(base),
                                               "stages": stage_p50, "n": n_made, "detect": t_detect}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
