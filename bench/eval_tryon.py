"""Evaluate face try-on on the real data in ../shared/data (nothing is copied from it).

    .venv/bin/python -m bench.eval_tryon                 # everything
    .venv/bin/python -m bench.eval_tryon --part fasseg   # lips / skin / face-skin IoU
    .venv/bin/python -m bench.eval_tryon --part cc0      # detection per tone group, misses
    .venv/bin/python -m bench.eval_tryon --part stability
    .venv/bin/python -m bench.eval_tryon --part fidelity --limit 200
    .venv/bin/python -m bench.eval_tryon --part sheet --out /tmp/tryon_sheet.png

Baselines are measured in the same run: the plain face-mesh polygons for the IoUs, raw ITA for
the tone groups, and "lips left alone" / a 50% alpha overlay (what open-source lipstick apps do)
for shade fidelity.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RESTYLE_SHARED_DATA", REPO.parent / "shared" / "data"))


def _pipe():
    from app.settings import load_settings
    from pipelines.tryon import TryOnPipeline

    return TryOnPipeline.from_settings(load_settings())


def iou(a: np.ndarray, b: np.ndarray) -> float:
    u = (a | b).sum()
    return float((a & b).sum() / u) if u else 1.0


def eval_fasseg(pipe, limit: int | None = None) -> dict:
    from pipelines.tryon.regions import mesh_regions

    d = DATA / "faces" / "fasseg"
    rows = []
    for f in sorted(os.listdir(d / "images"))[:limit]:
        img = Image.open(d / "images" / f).convert("RGB")
        gt = np.asarray(Image.open(d / "labels_index" / f))
        a = pipe.analyze(img, faces="largest")
        if not a.faces:
            rows.append({"file": f, "found": False})
            continue
        base = mesh_regions(a.faces[0], gt.shape)
        r = a.face_regions[0]
        skin_gt = (gt == 1) | (gt == 4)
        face_gt = skin_gt & base["face_oval"]
        rows.append({
            "file": f, "found": True,
            "lips": iou(r["mouth"], gt == 5), "lips_mesh": iou(base["mouth"], gt == 5),
            "skin": iou(a.skin_mask, skin_gt), "skin_oval": iou(base["face_oval"], skin_gt),
            "face": iou(r["face_skin"], face_gt), "face_mesh": iou(base["face_skin"], face_gt),
        })
    found = [r for r in rows if r["found"]]
    out = {"images": len(rows), "faces_found": len(found)}
    for k in ("lips", "lips_mesh", "skin", "skin_oval", "face", "face_mesh"):
        v = np.array([r[k] for r in found])
        out[k] = {"mean": round(float(v.mean()), 5), "min": round(float(v.min()), 4)}
    out["worst_lips"] = sorted(((round(r["lips"], 3), r["file"]) for r in found))[:3]
    out["worst_skin"] = sorted(((round(r["skin"], 3), r["file"]) for r in found))[:3]
    return out


def _cc0_index() -> list[dict]:
    with open(DATA / "faces" / "cc0" / "index.csv") as fh:
        return list(csv.DictReader(fh))


def eval_cc0(pipe, limit: int | None = None) -> dict:
    from pipelines.tryon.tone import ita_group

    rows = []
    for rec in _cc0_index()[:limit]:
        img = Image.open(DATA / "faces" / "cc0" / rec["file"]).convert("RGB")
        a = pipe.analyze(img, faces="largest")
        t = a.tone
        regions_ok = bool(a.faces) and all(a.regions.get(k, np.zeros(1, bool)).any() for k in ("lips", "eyeshadow", "cheeks", "face_skin"))
        rows.append({
            "file": rec["file"], "greyscale_flag": rec["grayscale"] == "True", "found": bool(a.faces), "regions": regions_ok,
            "yaw": round(a.faces[0].yaw(), 2) if a.faces else None,
            "ita": t.ita if t else None, "raw_ita": t.raw_ita if t else None, "monk": t.monk if t else None,
            "group": t.group if t else "unknown", "raw_group": ita_group(t.raw_ita) if t else "unknown",
            "undertone": t.undertone if t else None, "confidence": round(t.confidence, 3) if t else None,
            "light": a.light.source, "exposure": round(a.light.exposure, 3), "message": a.message,
        })
    out = {"images": len(rows), "found": sum(r["found"] for r in rows), "regions": sum(r["regions"] for r in rows)}
    for key in ("group", "raw_group"):
        per = {}
        for g in ("light", "medium", "dark", "unknown"):
            sel = [r for r in rows if r[key] == g]
            if sel:
                per[g] = {"n": len(sel), "found_and_regions_%": round(100 * sum(r["regions"] for r in sel) / len(sel), 1)}
        rates = [v["found_and_regions_%"] for g, v in per.items() if g != "unknown"]
        per["max_gap_points"] = round(max(rates) - min(rates), 1) if rates else None
        out["by_" + key] = per
    raw_dark = [r for r in rows if r["raw_group"] == "dark"]
    out["raw_dark_now"] = {g: sum(r["group"] == g for r in raw_dark) for g in ("light", "medium", "dark")}
    out["monk_hist"] = {int(k): int(v) for k, v in zip(*np.unique([r["monk"] for r in rows if r["monk"]], return_counts=True))}
    out["undertones"] = {u: sum(r["undertone"] == u for r in rows) for u in ("warm", "neutral", "cool")}
    out["light_sources"] = {s: sum(r["light"] == s for r in rows) for s in sorted({r["light"] for r in rows})}
    out["misses"] = [{"file": r["file"], "found": r["found"], "yaw": r["yaw"], "greyscale_flag": r["greyscale_flag"], "message": r["message"]} for r in rows if not r["regions"]]
    out["rows"] = rows
    return out


def _shift(rgb: np.ndarray, gains) -> np.ndarray:
    from pipelines.tryon.color import linear_to_srgb, srgb_to_linear

    lin = srgb_to_linear(rgb.astype(np.float32) / 255.0) * np.asarray(gains, np.float32)
    return (linear_to_srgb(lin) * 255 + 0.5).astype(np.uint8)


def eval_stability(pipe, limit: int | None = None) -> dict:
    """Monk level under exposure +-15% and white-balance shifts of +-15% (red vs blue)."""
    shifts = {"exp+15%": (1.15, 1.15, 1.15), "exp-15%": (0.85, 0.85, 0.85),
              "warm15%": (1.15, 1.0, 1 / 1.15), "cool15%": (1 / 1.15, 1.0, 1.15)}
    per_face, worst = [], []
    for rec in _cc0_index()[:limit]:
        rgb = np.asarray(Image.open(DATA / "faces" / "cc0" / rec["file"]).convert("RGB"))
        a = pipe.analyze(rgb, faces="largest")
        if not a.faces or a.tone is None:
            continue
        ds = {}
        for name, g in shifts.items():
            b = pipe.analyze(_shift(rgb, g), faces="largest")
            ds[name] = abs(b.tone.monk - a.tone.monk) if b.tone else 99
        per_face.append(max(ds.values()))
        if max(ds.values()) > 1:
            worst.append((rec["file"], a.tone.monk, ds))
    v = np.array(per_face)
    return {"faces": len(v), "within_1_%": round(100 * float((v <= 1).mean()), 1), "unchanged_%": round(100 * float((v == 0).mean()), 1), "over_1": worst}


def _shade_sets(limit: int | None) -> dict[str, list[tuple[str, str]]]:
    s = DATA / "shades"
    sets = {"lipstick": [], "foundation": []}
    with open(s / "lipstick_ovilia" / "lipstick.csv") as fh:
        sets["lipstick"] += [("ovilia", r["hex"]) for r in csv.DictReader(fh)]
    with open(s / "makeup_api_dump" / "shades_flat.csv") as fh:
        for r in csv.DictReader(fh):
            if r["hex_valid"] == "True" and r["product_type"] in ("lipstick", "foundation"):
                sets[r["product_type"]].append(("makeup_api", r["hex"]))
    with open(s / "foundation_pudding" / "allShades.csv") as fh:
        sets["foundation"] += [("pudding_all", r["hex"]) for r in csv.DictReader(fh)]
    with open(s / "foundation_pudding" / "shades_2018_pudding.csv") as fh:
        rd = csv.DictReader(fh)
        col = next(c for c in rd.fieldnames if c.lower() in ("hex", "color", "colour", "hex_colour"))
        sets["foundation"] += [("pudding_2018", r[col]) for r in rd]
    if limit:
        rng = np.random.default_rng(0)
        sets = {k: [v[i] for i in sorted(rng.choice(len(v), min(limit, len(v)), replace=False))] for k, v in sets.items()}
    return sets


def eval_fidelity(pipe, limit: int | None = None, refs=("cc0/images/036.jpg", "cc0/images/079.jpg"), scale: float = 0.6) -> dict:
    """Every real lipstick and foundation shade rendered at full opacity on reference faces
    made neutral (white-balanced and exposure-corrected by their own light estimate).

    The references are used at ``scale`` of their size (300 px for the CC0 portraits) so that
    ~10,000 full-face foundation renders per face fit in minutes on 2 cores."""
    from pipelines.tryon import render as R
    from pipelines.tryon.color import delta_e, hex_to_lab, srgb_to_lab
    from pipelines.tryon.tone import correct

    sets = _shade_sets(limit)
    out = {}
    for ref in refs:
        p = DATA / "faces" / ref
        if not p.exists():
            continue
        im = Image.open(p).convert("RGB")
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
        a = pipe.analyze(im, faces="largest")
        if not a.faces:
            out[ref] = "no face"
            continue
        rgb = np.asarray(im)
        neutral = correct(rgb.astype(np.float32) / 255.0, a.light)  # the neutral reference
        r = a.face_regions[0]
        res = {"tone": a.tone.to_dict() if a.tone else None, "size": list(a.size)}
        for kind, region, protect in (("lipstick", "lips", ("mouth_interior",)), ("foundation", "face_skin", ("eyes", "brows", "mouth"))):
            pr = np.zeros_like(r["lips"])
            for k in protect:
                pr |= r[k]
            reg = R.Region.from_mask(r[region], kind=kind, protect=pr)
            x0, y0, x1, y1 = reg.box
            orig_lab = srgb_to_lab(neutral[y0:y1, x0:x1][reg.mask])
            des, cors, untouched, overlay, bad, t0 = [], [], [], [], 0, time.perf_counter()
            by_l = []
            for src, hx in sets[kind]:
                try:
                    shade = hex_to_lab(hx)
                except ValueError:
                    bad += 1
                    continue
                canvas = neutral.copy()
                st = R.render_product(canvas, reg, shade, kind, "satin", 1.0, None)
                des.append(st["delta_e"])
                cors.append(st["texture_corr"])
                by_l.append(shade[0])
                untouched.append(float(delta_e(orig_lab.mean(0), shade)))
                if kind == "lipstick":
                    rgb_sh = np.array([int(hx.strip().lstrip('#')[i:i + 2], 16) for i in (0, 2, 4)], np.float32) / 255
                    ov = 0.5 * neutral[y0:y1, x0:x1][reg.mask] + 0.5 * rgb_sh
                    overlay.append(float(delta_e(srgb_to_lab(ov).mean(0), shade)))
            des, by_l = np.array(des), np.array(by_l)
            dark, light = des[by_l < 40], des[by_l >= 70]
            res[kind] = {
                "shades": len(des), "malformed_hex_skipped": bad,
                "mean_delta_e": round(float(des.mean()), 3), "p95_delta_e": round(float(np.percentile(des, 95)), 3),
                "max_delta_e": round(float(des.max()), 3),
                "mean_delta_e_dark_shades_L<40": round(float(dark.mean()), 3) if len(dark) else None,
                "mean_delta_e_light_shades_L>=70": round(float(light.mean()), 3) if len(light) else None,
                "mean_texture_corr": round(float(np.mean(cors)), 4), "min_texture_corr": round(float(np.min(cors)), 4),
                "baseline_untouched_mean_delta_e": round(float(np.mean(untouched)), 3),
                "ms_per_shade": round((time.perf_counter() - t0) * 1000 / max(len(des), 1), 2),
            }
            if overlay:
                res[kind]["baseline_50%_overlay_mean_delta_e"] = round(float(np.mean(overlay)), 3)
        out[ref] = res
    return out


def contact_sheet(pipe, out_path: Path, files=None, n_looks: int = 5) -> dict:
    """Looks across skin tones: rows are CC0 faces sorted by corrected ITA (light to dark),
    columns the photo then ``n_looks`` looks from real shades (makeup_api_dump)."""
    from dataclasses import dataclass

    from pipelines.tryon import LookRequest

    @dataclass
    class Shade:
        id: str
        title: str
        brand: str
        makeup_type: str
        shade_hex: str
        shade_name: str
        finish: str = "satin"
        price: float | None = None
        currency: str = "USD"
        url: str = ""
        category: str = "makeup"

    class Cat:
        def __init__(self, ps):
            self.ps = {p.id: p for p in ps}

        def list(self, category=None, makeup_type=None):
            return [p for p in self.ps.values() if makeup_type in (None, p.makeup_type)]

        def get(self, i):
            return self.ps.get(i)

    ps = []
    with open(DATA / "shades" / "makeup_api_dump" / "shades_flat.csv") as fh:
        for i, r in enumerate(csv.DictReader(fh)):
            if r["hex_valid"] != "True" or r["product_type"] not in ("lipstick", "eyeshadow", "blush"):
                continue
            fin = "gloss" if "gloss" in r["product_name"].lower() else "matte" if "matte" in r["product_name"].lower() else "shimmer" if r["product_type"] == "eyeshadow" and i % 3 == 0 else "satin"
            ps.append(Shade(f"{r['product_id']}-{i}", r["product_name"], r["brand"], r["product_type"], r["hex"], r["colour_name"], fin, float(r["price"] or 0) or None))
    pipe.catalog = Cat(ps)
    files = files or ["035", "036", "045", "004", "014", "098", "025", "051", "073", "079"]
    rows = []
    for f in files:
        p = DATA / "faces" / "cc0" / "images" / f"{f}.jpg"
        if not p.exists():
            continue
        img = Image.open(p).convert("RGB")
        a = pipe.analyze(img, faces="largest")
        if not a.faces:
            continue
        ls = pipe.looks(img, a, LookRequest(n=n_looks, seed=1))
        x0, y0, x1, y1 = a.faces[0].box
        pad = int(0.15 * (x1 - x0))
        box = (max(0, x0 - pad), max(0, y0 - pad), min(a.size[0], x1 + pad), min(a.size[1], y1 + pad))
        tiles = [ls.before.crop(box).resize((200, 240))] + [lk.image.crop(box).resize((200, 240)) for lk in ls.looks]
        rows.append((a.tone.ita if a.tone else 0, tiles, f, a.tone.to_dict() if a.tone else None))
    rows.sort(key=lambda r: -r[0])
    sheet = Image.new("RGB", (200 * (n_looks + 1), 240 * len(rows)), "white")
    for i, (_, tiles, _, _) in enumerate(rows):
        for j, t in enumerate(tiles):
            sheet.paste(t, (200 * j, 240 * i))
    sheet.save(out_path)
    return {"sheet": str(out_path), "rows": [(f, t and {k: t[k] for k in ("monk", "ita", "raw_ita", "undertone", "group")}) for _, _, f, t in rows]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("all", "fasseg", "cc0", "stability", "fidelity", "sheet"), default="all")
    ap.add_argument("--limit", type=int, default=None, help="first N images / N random shades (quick run)")
    ap.add_argument("--out", default=str(REPO / "tests" / "artifacts" / "tryon_contact_sheet.png"))
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args(argv)
    import cv2
    import torch

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if not DATA.is_dir():
        raise SystemExit(f"real data not found at {DATA}")
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}")
    pipe = _pipe()
    res = {}
    parts = ("fasseg", "cc0", "stability", "fidelity", "sheet") if args.part == "all" else (args.part,)
    for part in parts:
        t = time.perf_counter()
        if part == "fasseg":
            res[part] = eval_fasseg(pipe, args.limit)
        elif part == "cc0":
            r = eval_cc0(pipe, args.limit)
            r.pop("rows")
            res[part] = r
        elif part == "stability":
            res[part] = eval_stability(pipe, args.limit)
        elif part == "fidelity":
            res[part] = eval_fidelity(pipe, args.limit)
        elif part == "sheet":
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            res[part] = contact_sheet(pipe, Path(args.out))
        print(f"== {part} ({time.perf_counter() - t:.1f} s)")
        print(json.dumps(res[part], indent=1, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
