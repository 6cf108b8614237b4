"""Shop the look on real IKEA rooms: find the catalogue products visible in each photo.

For every room in ``ikea/rooms.json`` the catalogue (``ikea/catalogue.csv``, 685 products) is ranked
and recall@10 / recall@50 of ``catalogue_product_ids_in_scene`` is reported, overall (mean over
rooms) and per category (share of that category's in-scene products found), for, in one run:

- random: a seeded random ranking;
- whole: the whole photo's embedding vs the catalogue's (the import's vectors);
- grid: whole photo + 2x2 + 3x3 crops, each product scored by its best crop;
- dense: catalog.shop (one high-resolution feature map, multi-scale GeM windows, flips,
  alpha-masked product vectors, per-category score normalisation), plus detector boxes if given;
- dense+cells: dense (z-scored) + 0.5 x cell matching (each product cell's best room cell, averaged
  over the product's cells; catalog.shop.score_fused), from the same feature maps;
- dense+cells+colour: the same, each cell match penalised by the Lab distance of the cells' colours.

Seconds per room are reported for the dense windows and for the cell matching on top of them.

Any detector can be plugged in: ``--detector module:function`` names a function
``image -> list[(x0, y0, x1, y1)]``; ``--detector room`` uses pipelines.room.RoomPipeline.detect_items.

    .venv/bin/python -m bench.eval_shop_the_look [--rooms 10] [--data /work/shared/data]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def load_detector(spec: str | None, settings):
    if not spec:
        return None
    if spec == "room":
        from pipelines.room import RoomPipeline

        pipe = RoomPipeline.from_settings(settings)
        def detect(img):
            # detect_items works on the photo resized to settings.work_max_side: boxes back to img's frame
            an = pipe.detect_items(img)
            sx, sy = img.size[0] / an.size[0], img.size[1] / an.size[1]
            return [(round(b[0] * sx), round(b[1] * sy), round(b[2] * sx), round(b[3] * sy)) for b in (it.box for it in an.items)]

        return detect
    mod, fn = spec.split(":")
    return getattr(importlib.import_module(mod), fn)


def recall(ranked: np.ndarray, gt: list[int], k: int) -> float:
    return len(set(ranked[:k].tolist()) & set(gt)) / len(gt)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data"))
    ap.add_argument("--catalog-dir", default="/tmp/restyle_eval_catalog", help="where the IKEA catalogue is imported (cached)")
    ap.add_argument("--rooms", type=int, default=0, help="evaluate only the first N rooms (0 = all)")
    ap.add_argument("--detector", help="'room' or module:function (image -> boxes)")
    ap.add_argument("--long-side", type=int, default=896)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--blend", type=float, default=0.5, help="weight of the per-category z-score in dense+blend")
    ap.add_argument("--cell-weight", type=float, default=0.5, help="weight of the cell-matching z-score in dense+cells")
    ap.add_argument("--colour-weight", type=float, default=0.008, help="cosine per Lab unit in dense+cells+colour")
    ap.add_argument("--json", help="write the figures here too")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from app.settings import load_settings
    from catalog.cutout import crop_to_alpha
    from catalog.embeddings import ImageEmbedder
    from catalog.importer import CatalogImporter
    from catalog.shop import ProductCells, product_cells, product_vectors, room_windows, score_fused, score_products
    from catalog.store import Catalog
    from pipelines.intake import load_image

    data = Path(args.data)
    settings = load_settings(data_dir=args.catalog_dir)
    catalog = Catalog.open(settings)
    embedder = ImageEmbedder()
    t0 = time.perf_counter()
    if len(catalog.list(category="sofa")) == 0:
        print("importing the IKEA catalogue (once) ...", flush=True)
        rep = CatalogImporter(catalog, embedder, None).import_file(data / "ikea" / "catalogue.csv")
        print(f"  {rep.accepted} products in {rep.seconds:.0f} s", flush=True)
    products = [p for p in catalog.list() if p.makeup_type is None and p.cutout_path]
    ids = [p.id for p in products]
    cats = np.array([p.category for p in products])
    row = {pid: i for i, pid in enumerate(ids)}

    imp_model = f"{embedder.model_name}|view=cutout-on-white-cropped:v1"
    stored_ids, stored = catalog.get_embeddings("image", imp_model)
    srow = {pid: i for i, pid in enumerate(stored_ids)}
    whole_vecs = stored[[srow[i] for i in ids]]

    cache = Path(args.catalog_dir) / "shop_vectors.npz"
    z_cache = np.load(cache, allow_pickle=False) if cache.exists() else None
    if z_cache is not None and "cell_colours" in z_cache.files and list(z_cache["ids"]) == ids:
        masked_vecs, plain_vecs = z_cache["masked"], z_cache["plain"]
        cells = ProductCells(z_cache["cells"], z_cache["cell_owner"], len(ids), z_cache["cell_colours"])
    else:
        print("pooling catalogue vectors (alpha-masked and plain) and cells ...", flush=True)
        cut = [crop_to_alpha(Image.open(catalog.root / p.cutout_path)) for p in products]
        masked_vecs, plain_vecs = product_vectors(embedder, cut, both=True)
        cells = product_cells(embedder, cut)
        np.savez(cache, ids=np.array(ids), masked=masked_vecs, plain=plain_vecs, cells=cells.vectors,
                 cell_owner=cells.owner, cell_colours=cells.colours)

    rooms = json.loads((data / "ikea" / "rooms.json").read_text())
    if args.rooms:
        rooms = rooms[: args.rooms]
    detector = load_detector(args.detector, settings)
    rng = np.random.default_rng(0)
    methods = ["random", "whole", "grid", "dense-unmasked", "dense", "dense+catnorm", "dense+blend", "dense+grid", "dense+cells", "dense+cells+colour"]
    if detector:
        methods += ["dense+blend+detector", "dense+cells+detector"]
    per_room = {m: {10: [], 50: []} for m in methods}
    per_cat = {m: {} for m in methods}  # category -> [found@10, found@50, total]
    skipped = 0
    t_dense, t_cells, t_colour = [], [], []
    t_rooms = time.perf_counter()
    for ri, room in enumerate(rooms):
        gt = [row[i] for i in room["catalogue_product_ids_in_scene"] if i in row]
        if not gt:
            skipped += 1
            continue
        img = load_image(data / "ikea" / room["image"], max_pixels=settings.max_image_pixels)
        rankings = {"random": rng.permutation(len(ids))}
        q = embedder.embed([img])[0]
        rankings["whole"] = np.argsort(-(whole_vecs @ q), kind="stable")
        W, H = img.size
        crops = [img]
        for n in (2, 3):
            for i in range(n):
                for j in range(n):
                    crops.append(img.crop((j * W // n, i * H // n, (j + 1) * W // n, (i + 1) * H // n)))
        cv = embedder.embed(crops)
        grid_best = (whole_vecs @ cv.T).max(axis=1)
        rankings["grid"] = np.argsort(-grid_best, kind="stable")
        ta = time.perf_counter()
        win = room_windows(embedder, img, long_side=args.long_side)
        raw = score_products(win, masked_vecs)
        tb = time.perf_counter()
        fused = score_fused(win, masked_vecs, cells, args.cell_weight)
        t_dense.append(tb - ta)
        tc = time.perf_counter()
        fused_col = score_fused(win, masked_vecs, cells, args.cell_weight, args.colour_weight)
        t_cells.append(tc - tb)
        t_colour.append(time.perf_counter() - tc)
        rankings["dense-unmasked"] = np.argsort(-score_products(win, plain_vecs), kind="stable")
        rankings["dense"] = np.argsort(-raw, kind="stable")
        zc = score_products(win, masked_vecs, cats)
        rankings["dense+catnorm"] = np.argsort(-zc, kind="stable")
        zg = (raw - raw.mean()) / (raw.std() + 1e-6)
        rankings["dense+blend"] = np.argsort(-(zg + args.blend * zc), kind="stable")
        # Late fusion: the grid's re-embedded crops see small objects at full resolution, the dense
        # windows see every scale and position; z-scores make the two comparable.
        zgrid = (grid_best - grid_best.mean()) / (grid_best.std() + 1e-6)
        rankings["dense+grid"] = np.argsort(-(zg + zgrid), kind="stable")
        rankings["dense+cells"] = np.argsort(-fused, kind="stable")
        rankings["dense+cells+colour"] = np.argsort(-fused_col, kind="stable")
        if detector:
            boxes = detector(img)
            win_d = room_windows(embedder, img, long_side=args.long_side, boxes=boxes)
            raw_d = score_products(win_d, masked_vecs)
            zg_d = (raw_d - raw_d.mean()) / (raw_d.std() + 1e-6)
            rankings["dense+blend+detector"] = np.argsort(-(zg_d + args.blend * score_products(win_d, masked_vecs, cats)), kind="stable")
            rankings["dense+cells+detector"] = np.argsort(-score_fused(win_d, masked_vecs, cells, args.cell_weight), kind="stable")
        for m in methods:
            r = rankings[m]
            for k in (10, 50):
                per_room[m][k].append(recall(r, gt, k))
            top10, top50 = set(r[:10].tolist()), set(r[:50].tolist())
            for g in gt:
                c = per_cat[m].setdefault(cats[g], [0, 0, 0])
                c[0] += g in top10
                c[1] += g in top50
                c[2] += 1
        if (ri + 1) % 10 == 0:
            print(f"  {ri + 1}/{len(rooms)} rooms, dense+catnorm R@10 so far {np.mean(per_room['dense+catnorm'][10]):.3f}", flush=True)
    secs = time.perf_counter() - t_rooms

    n = len(per_room["random"][10])
    print(f"\nshop the look: {n} rooms ({skipped} without catalogue products), {len(ids)} products; "
          f"{platform.platform()}, {os.cpu_count()} CPUs, {args.threads} torch threads; "
          f"{secs / max(1, n):.2f} s per room for all methods; features: {embedder.model_name}")
    print(f"dense: {np.mean(t_dense):.2f} s per room (feature maps + windows + scoring); "
          f"dense+cells scoring on top: {np.mean(t_cells):.2f} s per room ({len(cells.vectors)} product cells); "
          f"dense+cells+colour scoring on top: {np.mean(t_colour):.2f} s per room")
    print(f"{'method':<26}{'R@10':>7}{'R@50':>7}")
    for m in methods:
        print(f"{m:<26}{np.mean(per_room[m][10]):7.3f}{np.mean(per_room[m][50]):7.3f}")
    allcats = sorted({c for m in methods for c in per_cat[m]})
    print("\nper category R@10 (R@50), in-scene products:")
    print(f"{'category':<10}{'n':>4}" + "".join(f"{m[:18]:>20}" for m in methods))
    for c in allcats:
        tot = per_cat["random"].get(c, [0, 0, 0])[2]
        cells = "".join(
            f"{per_cat[m][c][0] / tot:>10.2f} ({per_cat[m][c][1] / tot:.2f})" if c in per_cat[m] else f"{'-':>20}"
            for m in methods)
        print(f"{c:<10}{tot:>4}" + cells)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rooms": n, "products": len(ids),
            "seconds_per_room": {"dense": float(np.mean(t_dense)), "cells": float(np.mean(t_cells)), "cells+colour": float(np.mean(t_colour))},
            "recall": {m: {"r@10": float(np.mean(per_room[m][10])), "r@50": float(np.mean(per_room[m][50]))} for m in methods},
            "per_category": {m: {c: {"r@10": v[0] / v[2], "r@50": v[1] / v[2], "n": v[2]} for c, v in per_cat[m].items()} for m in methods},
        }, indent=2))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
