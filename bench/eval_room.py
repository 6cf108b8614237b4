"""Evaluation on real photos: the IKEA rooms (../shared/data/ikea).

For each room: detect the items (CPU default: classical proposals + EfficientNet-Lite0 labels);
for each of sofa, chair, table, lamp, rug that the detector finds, swap the most confident such
item with 3 products of the same category from the IKEA catalogue (imported through the real
importer, cut-outs and index). Reported per combination: SSIM outside the edited region, the
rendered product's similarity to its catalogue photo (cosine of EfficientNet embeddings), time.
Also: how often a detected label is one of the room's listed items (rooms.json ``items_listed``).
Contact sheets (before + the 3 swaps, one row per room and category) are written for a person
to look at.

    .venv/bin/python -m bench.eval_room --limit 12 --out /tmp/room_eval
    .venv/bin/python -m bench.eval_room                       # all 66 rooms

The catalogue import is kept in ``--data-dir`` (default: <out>/data) and reused on later runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ikea"
CATEGORIES = ("sofa", "chair", "table", "lamp", "rug")
# Words in rooms.json's free-text item lists that mean each label.
LISTED_WORDS = {
    "sofa": ("sofa", "settee", "couch"), "armchair": ("armchair", "chair"), "chair": ("chair", "stool", "bench"),
    "table": ("table", "desk"), "bed": ("bed",), "lamp": ("lamp", "light", "pendant"), "rug": ("rug", "mat"),
    "shelf": ("shelf", "shelving", "bookcase"), "storage": ("cabinet", "wardrobe", "drawers", "storage", "box", "chest", "bench", "unit"),
    "mirror": ("mirror",), "cushion": ("cushion", "pillow"), "plant": ("plant", "pot", "vase"),
}


def import_catalogue(csv_path: Path, data_dir: Path, embedder):
    from app.settings import load_settings
    from catalog.importer import CatalogImporter, RowMapper, detect_preset, read_table
    from catalog.search import CatalogSearch
    from catalog.store import Catalog

    settings = load_settings(data_dir=data_dir)
    cat = Catalog.open(settings)
    rows = [r for r in read_table(csv_path) if r.get("category") in CATEGORIES]
    if len(cat) < len(rows):
        t0 = time.perf_counter()
        cols = list(rows[0].keys())
        report = CatalogImporter(cat, embedder, None).import_rows(rows, RowMapper(cols, None, detect_preset(cols)),
                                                                    base_dir=csv_path.parent, source=csv_path.name)
        print(f"imported {report.accepted}/{len(rows)} IKEA products of {', '.join(CATEGORIES)} "
              f"in {time.perf_counter() - t0:.1f} s", flush=True)
    return cat, CatalogSearch(cat, embedder, settings=settings)


def listed_match(label: str, listed: list[str]) -> bool:
    words = LISTED_WORDS.get(label, (label,))
    return any(w in item.lower() for item in listed for w in words)


def thumb(img: Image.Image, w: int = 300) -> Image.Image:
    return img.resize((w, round(img.height * w / img.width)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="the ikea folder (catalogue.csv, rooms/, rooms.json)")
    ap.add_argument("--limit", type=int, default=0, help="first N rooms only (0 = all)")
    ap.add_argument("--out", default="/tmp/room_eval", help="contact sheets and results.json")
    ap.add_argument("--data-dir", default=None, help="restyle data folder for the imported catalogue")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from catalog.embeddings import ImageEmbedder
    from pipelines.room import ClassicalSegmenter, CombinationRequest, RoomPipeline
    from pipelines.room.labels import FurnitureLabeler

    data = Path(args.data)
    if not (data / "catalogue.csv").is_file():
        raise SystemExit(f"no IKEA data at {data} (expected catalogue.csv, rooms/, rooms.json)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    embedder = ImageEmbedder()
    small = ImageEmbedder(size=128)
    cat, search = import_catalogue(data / "catalogue.csv", Path(args.data_dir or out / "data"), embedder)
    pipe = RoomPipeline(ClassicalSegmenter(), FurnitureLabeler(embedder, search=search), search=search, catalog=cat,
                        embedder=embedder, similarity_embedder=small)
    rooms = json.loads((data / "rooms.json").read_text())
    if args.limit:
        rooms = rooms[: args.limit]

    records, room_rows, sheet_rows = [], [], []
    errors = []
    for r_i, room in enumerate(rooms):
        path = data / room["image"]
        try:
            t0 = time.perf_counter()
            img = pipe.prepare(path)
            analysis = pipe.detect_items(img)
            t_detect = time.perf_counter() - t0
        except Exception as e:  # noqa: BLE001 - count it and go on
            errors.append(f"{path.name}: {e}")
            continue
        labels = [it.label for it in analysis.items]
        agree = [listed_match(lb, room.get("items_listed", [])) for lb in labels]
        room_rows.append({"room": path.name, "items": len(labels), "labels": labels, "listed_agreement": agree,
                          "detect_s": t_detect})
        print(f"[{r_i + 1}/{len(rooms)}] {path.name[:60]}: {len(labels)} items {labels} in {t_detect:.1f} s", flush=True)
        for category in CATEGORIES:
            cands = [it for it in analysis.items if it.label == category]
            if not cands:
                continue
            item = cands[0]
            try:
                t0 = time.perf_counter()
                cs = pipe.combinations(img, analysis, CombinationRequest(mode="swap_category", item_ids=[item.id], n=3))
                t_req = time.perf_counter() - t0
            except ValueError as e:
                errors.append(f"{path.name} {category}: {e}")
                continue
            for c in cs.combinations:
                records.append({
                    "room": path.name, "category": category, "item_confidence": round(item.confidence, 3),
                    "item_box": list(item.box), "product": c.products[0]["id"], "title": c.products[0]["title"],
                    "ssim_outside": c.fidelity["ssim_outside"],
                    "product_similarity": c.fidelity.get("product_similarity", [None])[0],
                    "render_s": round(c.timings["render"], 4), "fidelity_s": round(c.timings.get("fidelity", 0.0), 4),
                    "request_s_per_combination": round(t_req / max(1, len(cs.combinations)), 4),
                })
            # Contact sheet row: before with the item outlined, then the swaps.
            before = cs.before.copy()
            d = ImageDraw.Draw(before)
            d.rectangle(item.box, outline=(255, 0, 0), width=4)
            d.text((item.box[0] + 4, item.box[1] + 4), f"{category} {item.confidence:.2f}", fill=(255, 0, 0))
            row = [thumb(before)] + [thumb(c.image) for c in cs.combinations]
            sheet_rows.append((f"{path.name[:40]} {category}", row))
        # Partial results after every room, so a long run that is stopped still reports.
        (out / "partial.json").write_text(json.dumps({"rooms": room_rows, "combinations": records, "errors": errors}))

    # Contact sheets, 8 rows each.
    sheets = []
    for s in range(0, len(sheet_rows), 8):
        chunk = sheet_rows[s:s + 8]
        h = max(im.height for _, row in chunk for im in row)
        sheet = Image.new("RGB", (300 * 4, (h + 14) * len(chunk)), "white")
        d = ImageDraw.Draw(sheet)
        for j, (title, row) in enumerate(chunk):
            y = j * (h + 14)
            d.text((4, y), title, fill=(0, 0, 0))
            for k, im in enumerate(row):
                sheet.paste(im, (300 * k, y + 14))
        p = out / f"contact_{s // 8:02d}.png"
        sheet.save(p)
        sheets.append(str(p))

    summary = {
        "machine": f"{platform.platform()} | CPUs {os.cpu_count()} | torch threads {args.threads} | load {os.getloadavg()[0]:.1f}",
        "rooms": len(rooms), "rooms_done": len(room_rows), "errors": errors,
        "items_per_room_median": statistics.median([r["items"] for r in room_rows]) if room_rows else 0,
        "detected_label_in_item_list": round(float(np.mean([a for r in room_rows for a in r["listed_agreement"]])), 3) if room_rows else None,
        "detect_s_median": round(statistics.median([r["detect_s"] for r in room_rows]), 2) if room_rows else None,
        "combinations": len(records),
        "per_category": {},
        "contact_sheets": sheets,
    }
    for category in CATEGORIES + ("all",):
        rs = [r for r in records if category == "all" or r["category"] == category]
        if not rs:
            continue
        sims = [r["product_similarity"] for r in rs if r["product_similarity"] is not None]
        summary["per_category"][category] = {
            "rooms": len({r["room"] for r in rs}), "combinations": len(rs),
            "ssim_outside_min": min(r["ssim_outside"] for r in rs),
            "ssim_outside_median": statistics.median(r["ssim_outside"] for r in rs),
            "product_similarity_median": round(statistics.median(sims), 3) if sims else None,
            "product_similarity_min": round(min(sims), 3) if sims else None,
            "request_s_per_combination_median": statistics.median(r["request_s_per_combination"] for r in rs),
        }
    (out / "results.json").write_text(json.dumps({"summary": summary, "rooms": room_rows, "combinations": records}, indent=1))
    with open(out / "combinations.csv", "w", newline="") as f:
        if records:
            w = csv.DictWriter(f, fieldnames=[k for k in records[0] if k != "item_box"], extrasaction="ignore")
            w.writeheader()
            w.writerows(records)
    print()
    print(summary["machine"])
    print(f"rooms {summary['rooms_done']}/{summary['rooms']}, combinations {summary['combinations']}, "
          f"errors {len(errors)}; items per room (median) {summary['items_per_room_median']}; "
          f"detected label is in the room's item list: {summary['detected_label_in_item_list']}; "
          f"detect time median {summary['detect_s_median']} s")
    print(f"| {'category':8} | rooms | combos | SSIM out min | SSIM out med | prod. sim med | prod. sim min | s/combo med |")
    print(f"|{'-' * 10}|-------|--------|--------------|--------------|---------------|---------------|-------------|")
    for k, v in summary["per_category"].items():
        print(f"| {k:8} | {v['rooms']:5} | {v['combinations']:6} | {v['ssim_outside_min']:12.4f} | {v['ssim_outside_median']:12.4f} | "
              f"{v['product_similarity_median'] or 0:13.3f} | {v['product_similarity_min'] or 0:13.3f} | {v['request_s_per_combination_median']:11.3f} |")
    for e in errors[:10]:
        print("error:", e)
    print("contact sheets:", *sheets, sep="\n  ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
