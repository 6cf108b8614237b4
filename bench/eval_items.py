"""Item detection on real photos: do the detector's labels name what is in the room?

Ground truth:

- IKEA rooms (``../shared/data/ikea``): the categories of each room's
  ``catalogue_product_ids_in_scene`` (``catalogue.csv``'s category column is already a room word:
  the importer stores it as is). That list names only catalogue products, so a sofa in the photo
  that is not in the catalogue is missing from it: "strict" scores against it alone, "lenient"
  adds the room words that the free-text ``items_listed`` mention (``bench.eval_room.listed_match``).
  Only the catalogue's 11 categories are scored (nothing says whether a room has a plant);
  rooms without any in-scene product are skipped.
- demo rooms (``assets/rooms``, drawn by the project): the labels and boxes in ``rooms.json``,
  scored at category level and at box level (an item counts when it overlaps a drawn item of
  the same label with box IoU > 0.5; each drawn item is matched once).

Figures per configuration (labelling variant x catalogue votes): category-level micro precision
and recall (a room "has" a category when any item carries that label), AP over (room, category)
pairs ranked by the best item's confidence, item precision (share of items whose label is in
the room's truth) and items per room; precision/recall per category. A reference row predicts
the three most common truth categories in every room. Proposals, classifier outputs and
catalogue hits are cached (memory and ``--cache``), so every configuration after the first one
costs only the labelling rules.

    .venv/bin/python -m bench.eval_items --limit 20
    .venv/bin/python -m bench.eval_items --votes none,ikea --variants baseline,current
"""

from __future__ import annotations

import argparse
import copy
import csv
import hashlib
import inspect
import json
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from bench.eval_room import LISTED_WORDS, listed_match
from pipelines.room.types import MaskProposal

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ikea"
DEMO_ROOMS = REPO / "assets" / "rooms"

# Labelling variants: keyword arguments for FurnitureLabeler and RoomPipeline. "baseline" is the
# labelling of the first measurement (commit ae71b2e: plate rack -> shelf, no wall rules).
# "seg": objectness-filter settings of ClassicalSegmenter (its FILTER_PARTS) for the variant.
VARIANTS: dict[str, dict[str, dict]] = {
    "baseline": {"labeler": {"rules": False, "mapping": "legacy"}, "pipe": {}, "seg": {"objectness": False}},
    "no-plate-rack": {"labeler": {"rules": False}, "pipe": {}, "seg": {"objectness": False}},
    "no-objectness": {"labeler": {}, "pipe": {}, "seg": {"objectness": False}},
    "current": {"labeler": {}, "pipe": {}},
    # Objectness cues and labelling rules measured and left off (see their docstrings):
    "edge-0.7": {"labeler": {}, "pipe": {}, "seg": {"min_edge_support": 0.7}},
    "cont-0.7": {"labeler": {}, "pipe": {}, "seg": {"max_continuation": 0.7}},
    "top-24": {"labeler": {}, "pipe": {}, "seg": {"max_kept": 24}},
    "flip-votes": {"labeler": {"vote_flip": True}, "pipe": {}},  # the default before: same figures, slower
    "foot": {"labeler": {"foot_rule": True}, "pipe": {}},
    "parts": {"labeler": {"parts": True}, "pipe": {}},
    # Fewer items: RoomPipeline's min_confidence (default 0.2), with and without the floor test.
    "conf-0.45": {"labeler": {}, "pipe": {"min_confidence": 0.45}, "seg": {"objectness": False}},
    "floor+conf-0.45": {"labeler": {}, "pipe": {"min_confidence": 0.45}},
    "conf-0.6": {"labeler": {}, "pipe": {"min_confidence": 0.6}, "seg": {"objectness": False}},
    "floor+conf-0.6": {"labeler": {}, "pipe": {"min_confidence": 0.6}},
}


# ------------------------------------------------------------------ caches
def _img_key(img) -> str:
    a = np.asarray(img)
    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()


class _DiskDict:
    """A dict of numpy arrays kept in one .npz file (written on :meth:`save`)."""

    def __init__(self, path: Path | None):
        self.path, self.d, self.dirty = path, {}, False
        if path is not None and path.exists():
            with np.load(path) as z:
                self.d = {k: z[k] for k in z.files}

    def __contains__(self, k):
        return k in self.d

    def __getitem__(self, k):
        return self.d[k]

    def __setitem__(self, k, v):
        self.d[k] = v
        self.dirty = True

    def save(self):
        if self.path is not None and self.dirty:
            tmp = self.path.with_name(self.path.stem + ".tmp.npz")
            np.savez(tmp, **self.d)
            os.replace(tmp, self.path)
            self.dirty = False


class CachedSegmenter:
    """Memoises ``propose`` by image content (proposals are deterministic).

    A segmenter with ``candidates`` and ``keep_objects`` (``ClassicalSegmenter``) has its
    candidates cached and the objectness filter re-run on them, so filter variants share one
    cache: the cache version leaves out the code and settings named in its ``FILTER_PARTS``.
    """

    def __init__(self, inner, cache_dir: Path | None):
        self.inner = inner
        self.source = getattr(inner, "source", "proposals")
        module = inspect.getmodule(type(inner))
        src = inspect.getsource(module)
        exempt = tuple(getattr(inner, "FILTER_PARTS", ()))
        # __init__'s defaults reach the candidates only through the settings hashed below.
        for name in exempt + (("__init__",) if exempt else ()):
            fn = getattr(type(inner), name, None) or getattr(module, name, None)
            if callable(fn):
                src = src.replace(inspect.getsource(fn), "")
        settings = sorted(((k, v) for k, v in vars(inner).items() if k not in exempt and k != "last_timings"), key=str)
        self.version = hashlib.sha1((src + repr(settings)).encode()).hexdigest()[:12]
        self.filtered = hasattr(inner, "candidates") and hasattr(inner, "keep_objects")
        self.dir = cache_dir / f"proposals_{self.version}" if cache_dir else None
        if self.dir:
            self.dir.mkdir(parents=True, exist_ok=True)
        self.mem: dict[str, list] = {}

    def __getattr__(self, name):  # from_prompts, last_timings, ...
        return getattr(self.inner, name)

    def with_options(self, **options):
        """The same cache in front of a copy of the segmenter with ``options`` set (filter settings)."""
        if not options:
            return self
        bad = [k for k in options if k not in getattr(self.inner, "FILTER_PARTS", ())]
        if bad:
            raise ValueError(f"segmenter options {bad} would change the cached candidates")
        twin = object.__new__(type(self))
        twin.__dict__.update(self.__dict__)  # shares the memory cache
        twin.inner = copy.copy(self.inner)
        for k, v in options.items():
            setattr(twin.inner, k, v)
        return twin

    def propose(self, image):
        props = self._cached(image)
        if self.filtered:
            props = self.inner.keep_objects(image, [MaskProposal(p.mask, p.score, p.box, p.source) for p in props])
        return props

    def _cached(self, image):
        key = _img_key(image)
        if key in self.mem:
            return self.mem[key]
        path = self.dir / f"{key}.npz" if self.dir else None
        if path is not None and path.exists():
            with np.load(path) as z:
                shape = tuple(z["shape"])
                masks = np.unpackbits(z["bits"], axis=1, count=shape[0] * shape[1]).astype(bool)
                props = [MaskProposal.from_mask(m.reshape(shape), float(s), str(z["source"])) for m, s in zip(masks, z["scores"])]
        else:
            props = self.inner.candidates(image) if self.filtered else self.inner.propose(image)
            if path is not None:
                shape = np.asarray(image).shape[:2]
                bits = np.packbits(np.stack([p.mask.ravel() for p in props]) if props else np.zeros((0, shape[0] * shape[1]), bool), axis=1)
                np.savez_compressed(path, bits=bits, scores=np.array([p.score for p in props]), shape=np.array(shape),
                                    source=np.array(self.source))
        self.mem[key] = props
        return props


class CachedClassifier:
    """Memoises ``classify`` per crop (probabilities stored as float16)."""

    def __init__(self, inner, store: _DiskDict):
        self.inner, self.store = inner, store
        self.backend = getattr(inner, "backend", type(inner).__name__)

    def classify(self, images):
        keys = [_img_key(im) for im in images]
        miss = [i for i, k in enumerate(keys) if k not in self.store]
        if miss:
            probs = np.asarray(self.inner.classify([images[i] for i in miss]), np.float32)
            for i, p in zip(miss, probs):
                self.store[keys[i]] = p.astype(np.float16)
        return np.stack([self.store[k].astype(np.float32) for k in keys]) if keys else np.zeros((0, 1000), np.float32)


class CachedSearch:
    """Memoises ``by_image`` per crop; hits keep only what the labeller reads (category, score)."""

    def __init__(self, inner, store: dict):
        self.inner, self.store = inner, store

    def by_image(self, image, k: int = 10, **kw):
        key = f"{_img_key(image)}:{k}" + ("" if kw.get("flip", True) else ":noflip")
        if key not in self.store:
            self.store[key] = [(getattr(h.product, "category", None), float(h.score)) for h in self.inner.by_image(image, k=k, **kw)]
        return [SimpleNamespace(product=SimpleNamespace(category=c), score=s) for c, s in self.store[key]]


def open_ikea_search(csv_path: Path, catalog_dir: Path, embedder):
    """The whole IKEA catalogue imported through the real importer (shared with eval_shop_the_look's cache)."""
    from app.settings import load_settings
    from catalog.importer import CatalogImporter
    from catalog.search import CatalogSearch
    from catalog.store import Catalog

    settings = load_settings(data_dir=catalog_dir)
    cat = Catalog.open(settings)
    if len(cat.list(category="sofa")) == 0:
        print("importing the IKEA catalogue (once) ...", flush=True)
        rep = CatalogImporter(cat, embedder, None).import_file(csv_path)
        print(f"  {rep.accepted} products in {rep.seconds:.0f} s", flush=True)
    return CatalogSearch(cat, embedder, settings=settings)


# ------------------------------------------------------------------ scoring
def box_iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(1e-9, (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def average_precision(pairs: list[tuple[float, bool]], n_true: int) -> float:
    """AP (area under the precision-recall steps) of (confidence, correct) pairs against n_true positives."""
    if n_true == 0:
        return float("nan")
    ap, tp = 0.0, 0
    for i, (_, ok) in enumerate(sorted(pairs, key=lambda t: -t[0])):
        if ok:
            tp += 1
            ap += tp / (i + 1)
    return ap / n_true


def score_rooms(rooms: list[dict], scored: set[str] | None) -> dict:
    """Category-level figures over rooms [{items: [(label, conf, box)], truth: set}].

    ``scored``: the categories that count (None = all but "object").
    """
    def ok(lb):
        return lb != "object" and (scored is None or lb in scored)

    tp = fp = fn = 0
    item_ok = item_n = 0
    pairs, n_true = [], 0
    per = {}
    for r in rooms:
        truth = {c for c in r["truth"] if ok(c)}
        best: dict[str, float] = {}
        for lb, conf, _ in r["items"]:
            if ok(lb):
                best[lb] = max(best.get(lb, 0.0), conf)
                item_n += 1
                item_ok += lb in truth
        pred = set(best)
        tp += len(pred & truth); fp += len(pred - truth); fn += len(truth - pred)
        n_true += len(truth)
        pairs += [(c, lb in truth) for lb, c in best.items()]
        for c in pred | truth:
            d = per.setdefault(c, [0, 0, 0])  # tp, fp, fn
            d[0] += c in pred and c in truth; d[1] += c in pred and c not in truth; d[2] += c in truth and c not in pred
    return {
        "rooms": len(rooms), "precision": tp / max(1, tp + fp), "recall": tp / max(1, tp + fn),
        "ap": average_precision(pairs, n_true), "item_precision": item_ok / max(1, item_n),
        "items_per_room": statistics.mean(len(r["items"]) for r in rooms) if rooms else 0.0,
        "scored_items_per_room": item_n / max(1, len(rooms)),
        "per_category": {c: {"tp": v[0], "fp": v[1], "fn": v[2], "precision": v[0] / max(1, v[0] + v[1]),
                             "recall": v[0] / max(1, v[0] + v[2])} for c, v in sorted(per.items())},
    }


def score_boxes(rooms: list[dict]) -> dict:
    """Box-level precision/recall on rooms with drawn boxes: an item is right when it overlaps an
    unmatched drawn item of its label by box IoU > 0.5."""
    tp = n_items = n_truth = 0
    for r in rooms:
        used = set()
        items = [it for it in r["items"] if it[0] != "object"]
        n_items += len(items)
        n_truth += len(r["boxes"])
        for lb, conf, box in sorted(items, key=lambda t: -t[1]):
            cands = [(box_iou(box, g["box"]), j) for j, g in enumerate(r["boxes"]) if g["label"] == lb and j not in used]
            iou, j = max(cands, default=(0.0, -1))
            if iou > 0.5:
                used.add(j)
                tp += 1
        r["box_matches"] = len(used)
    return {"precision": tp / max(1, n_items), "recall": tp / max(1, n_truth)}


# ------------------------------------------------------------------ running
def load_ikea_rooms(data: Path, limit: int) -> tuple[list[dict], set[str], int]:
    """[{name, path, strict, lenient}], the catalogue's categories, rooms skipped (no in-scene product)."""
    with open(data / "catalogue.csv", newline="") as f:
        category = {r["product_id"]: r["category"] for r in csv.DictReader(f)}
    cats = set(category.values())
    rooms = json.loads((data / "rooms.json").read_text())
    if limit:
        rooms = rooms[:limit]
    out, skipped = [], 0
    for room in rooms:
        strict = {category[i] for i in room.get("catalogue_product_ids_in_scene", []) if i in category}
        if not strict:
            skipped += 1
            continue
        listed = room.get("items_listed", [])
        lenient = strict | {c for c in cats if c in LISTED_WORDS and listed_match(c, listed)}
        out.append({"name": Path(room["image"]).name, "path": data / room["image"], "strict": strict, "lenient": lenient})
    return out, cats, skipped


def load_demo_rooms() -> list[dict]:
    truth = json.loads((DEMO_ROOMS / "rooms.json").read_text())
    return [{"name": name, "path": DEMO_ROOMS / name, "boxes": boxes, "strict": {b["label"] for b in boxes}}
            for name, boxes in truth.items()]


def build_pipeline(segmenter, classifier, search, variant: dict):
    from pipelines.room import RoomPipeline
    from pipelines.room.labels import FurnitureLabeler

    from pipelines.room.labels import IMAGENET_TO_ROOM

    kw = dict(variant.get("labeler", {}))
    if kw.get("mapping") == "legacy":
        kw["mapping"] = {**IMAGENET_TO_ROOM, 729: "shelf"}  # plate rack
    labeler = FurnitureLabeler(classifier, search=search, **kw)
    seg = variant.get("seg", {})
    if seg:
        segmenter = segmenter.with_options(**seg)
    return RoomPipeline(segmenter, labeler, **variant.get("pipe", {}))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA), help="the ikea folder (catalogue.csv, rooms/, rooms.json)")
    ap.add_argument("--limit", type=int, default=0, help="first N IKEA rooms only (0 = all 66)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of: {', '.join(VARIANTS)}")
    ap.add_argument("--votes", default="none", help="catalogue votes: 'none', 'ikea' (the whole IKEA catalogue) or 'none,ikea'")
    ap.add_argument("--catalog-dir", default="/tmp/restyle_eval_catalog", help="where the IKEA catalogue is imported (cached)")
    ap.add_argument("--cache", default="/tmp/restyle_eval_items", help="proposal/classifier cache ('' = none)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="write all figures and per-room labels here")
    ap.add_argument("--show", action="store_true", help="print every room's labels")
    args = ap.parse_args(argv)

    import cv2
    import torch

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    from catalog.embeddings import ImageEmbedder
    from pipelines.room import ClassicalSegmenter

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        raise SystemExit(f"unknown variant(s) {bad}; one of {list(VARIANTS)}")
    votes = [v.strip() for v in args.votes.split(",") if v.strip()]
    data = Path(args.data)
    have_ikea = (data / "rooms.json").is_file()
    if not have_ikea:
        print(f"no IKEA data at {data}: demo rooms only")
    cache = Path(args.cache) if args.cache else None
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    embedder = ImageEmbedder()
    segmenter = CachedSegmenter(ClassicalSegmenter(), cache)
    probs_store = _DiskDict(cache / "classify.npz" if cache else None)
    classifier = CachedClassifier(embedder, probs_store)
    hits_path = cache / "hits.json" if cache else None
    hits = json.loads(hits_path.read_text()) if hits_path and hits_path.exists() else {}
    searches = {"none": None}
    if "ikea" in votes:
        if not have_ikea:
            raise SystemExit("--votes ikea needs the IKEA data")
        searches["ikea"] = CachedSearch(open_ikea_search(data / "catalogue.csv", Path(args.catalog_dir), embedder), hits)

    ikea_rooms, cats, skipped = load_ikea_rooms(data, args.limit) if have_ikea else ([], set(), 0)
    demo_rooms = load_demo_rooms()
    configs = [(v, s) for s in votes for v in variants]
    results: dict[str, dict] = {}
    t_start = time.perf_counter()
    for v, s in configs:
        name = f"{v}/votes={s}"
        pipe = build_pipeline(segmenter, classifier, searches[s], VARIANTS[v])
        per_room, secs = [], []
        for room in demo_rooms + ikea_rooms:
            t0 = time.perf_counter()
            img = pipe.prepare(room["path"])
            a = pipe.detect_items(img)
            secs.append(time.perf_counter() - t0)
            items = [(it.label, float(it.confidence), tuple(int(b) for b in it.box)) for it in a.items]
            per_room.append({**room, "items": items, "truth": room["strict"]})
            if args.show:
                print(f"  {name} {room['name'][:50]}: {[f'{lb} {c:.2f}' for lb, c, _ in items]} truth {sorted(room['strict'])}")
        probs_store.save()
        if hits_path and s != "none":
            hits_path.write_text(json.dumps(hits))
        demo = per_room[:len(demo_rooms)]
        ikea = per_room[len(demo_rooms):]
        res = {"detect_s_median": statistics.median(secs), "demo": score_rooms(demo, None), "demo_boxes": score_boxes(demo)}
        if ikea:
            res["ikea_strict"] = score_rooms(ikea, cats)
            res["ikea_lenient"] = score_rooms([{**r, "truth": r["lenient"]} for r in ikea], cats)
        res["rooms"] = [{"room": r["name"], "items": r["items"], "truth": sorted(r["strict"])} for r in per_room]
        results[name] = res
        print(f"{name}: {len(per_room)} rooms, detect median {res['detect_s_median']:.2f} s "
              f"({time.perf_counter() - t_start:.0f} s so far)", flush=True)

    # Reference: the three most common truth categories predicted in every room, confidence 1.
    if ikea_rooms:
        common = [c for c, _ in Counter(c for r in ikea_rooms for c in r["strict"]).most_common(3)]
        ref = [{"items": [(c, 1.0, (0, 0, 1, 1)) for c in common], "truth": r["strict"]} for r in ikea_rooms]
        results[f"reference: always {'+'.join(common)}"] = {"ikea_strict": score_rooms(ref, cats),
                                                            "ikea_lenient": score_rooms([{**x, "truth": r["lenient"]} for x, r in zip(ref, ikea_rooms)], cats)}

    print()
    print(f"{platform.platform()} | {platform.processor() or platform.machine()} | CPUs {os.cpu_count()} | "
          f"torch threads {args.threads} | load {os.getloadavg()[0]:.1f} | IKEA rooms {len(ikea_rooms)} "
          f"(+{skipped} without in-scene products skipped) | demo rooms {len(demo_rooms)} | "
          f"wall {time.perf_counter() - t_start:.0f} s")
    print()
    hdr = "| configuration | truth | P | R | AP | item P | items/room | scored items/room |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for name, res in results.items():
        for key, label in (("ikea_strict", "IKEA strict"), ("ikea_lenient", "IKEA lenient"), ("demo", "demo")):
            if key not in res:
                continue
            m = res[key]
            print(f"| {name} | {label} | {m['precision']:.3f} | {m['recall']:.3f} | {m['ap']:.3f} | "
                  f"{m['item_precision']:.3f} | {m['items_per_room']:.1f} | {m['scored_items_per_room']:.1f} |")
        if "demo_boxes" in res:
            b = res["demo_boxes"]
            print(f"| {name} | demo boxes (IoU>0.5, same label) | {b['precision']:.3f} | {b['recall']:.3f} | | | | |")
    # Per category, IKEA strict: precision / recall (tp, fp, fn).
    keys = [k for k in results if "ikea_strict" in results[k] and not k.startswith("reference")]
    if keys:
        allc = sorted({c for k in keys for c in results[k]["ikea_strict"]["per_category"]})
        print("\nper category, IKEA strict: P / R (tp fp fn)")
        print("| category | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for c in allc:
            cells = []
            for k in keys:
                d = results[k]["ikea_strict"]["per_category"].get(c)
                cells.append(f"{d['precision']:.2f} / {d['recall']:.2f} ({d['tp']} {d['fp']} {d['fn']})" if d else "-")
            print(f"| {c} | " + " | ".join(cells) + " |")
    # Demo rooms: what each configuration labels.
    print("\ndemo rooms (label confidence; * = matches a drawn item of that label, box IoU > 0.5):")
    for k in results:
        if "rooms" not in results[k]:
            continue
        for r in results[k]["rooms"][:len(demo_rooms)]:
            boxes = next(d["boxes"] for d in demo_rooms if d["name"] == r["room"])
            marks = [f"{lb}{'*' if any(g['label'] == lb and box_iou(b, g['box']) > 0.5 for g in boxes) else ''} {c:.2f}"
                     for lb, c, b in r["items"]]
            print(f"  {k} {r['room']}: {', '.join(marks)}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=list))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
