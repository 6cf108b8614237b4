"""Reports of a preview run: the coverage report (what the catalogue team must fix) and the HTML
contact sheet (every product across the template scenes, grouped by product, flags shown).

Both are rebuilt from the manifest records, so they can be regenerated at any time
(:func:`write_reports`). Image links in the HTML are relative to the run folder, so the folder can
be zipped, moved or served as it is.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from statistics import mean

from PIL import Image

from pipelines.intake import load_image, save_image
from pipelines.preview.fidelity import cutout_problem
from pipelines.preview.manifest import write_json_atomic
from pipelines.preview.types import slug

CONTACT_SHEET = "contact_sheet.html"
COVERAGE = "coverage.json"
PRODUCT_THUMB_SIDE = 160


def figure(value) -> float | None:
    """A fidelity figure as one number: numbers as they are, a per-product list by its worst
    (lowest) value, anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, (list, tuple)):
        nums = [float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return min(nums) if nums else None
    return None


def coverage_report(records: list[dict], products: dict) -> dict:
    """Per product: scenes rendered / skipped / failed, low-fidelity renders, cut-out problem,
    and whether it needs attention. Products needing attention come first."""
    by_product: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_product[r["product_id"]].append(r)
    entries = []
    for pid in sorted(set(by_product) | set(products)):
        recs = by_product.get(pid, [])
        p = products.get(pid)
        ok = [r for r in recs if r["status"] == "ok"]
        low = [r for r in ok if r["flags"]]
        failed = [r for r in recs if r["status"] == "failed"]
        skipped = [r for r in recs if r["status"] == "skipped"]
        problem = cutout_problem(p) if p is not None else None
        reasons = []
        if problem:
            reasons.append(problem)
        if ok and len(low) * 2 >= len(ok):
            reasons.append(f"{len(low)} of {len(ok)} renders flagged for low fidelity")
        if failed:
            reasons.append(f"{len(failed)} renders failed")
        if recs and not ok and not failed and not (problem and all(r["reason"] and r["reason"].startswith(("cut-out", "no cut-out")) for r in skipped)):
            reasons.append("fits none of the template scenes")
        if not recs:
            reasons.append("no template scene of its kind")
        figures: dict[str, float] = {}
        for key in sorted({k for r in ok for k, v in r["fidelity"].items() if figure(v) is not None}):
            vals = [figure(r["fidelity"].get(key)) for r in ok]
            vals = [v for v in vals if v is not None]
            figures[key] = round(mean(vals), 4)
        entries.append(
            {
                "product_id": pid,
                "title": getattr(p, "title", ""),
                "category": getattr(p, "makeup_type", None) or getattr(p, "category", ""),
                "cutout_confidence": getattr(p, "cutout_confidence", None),
                "cutout_problem": problem,
                "rendered": len(ok),
                "skipped": len(skipped),
                "failed": len(failed),
                "low_fidelity": [{"scene_id": r["scene_id"], "flags": r["flags"]} for r in low],
                "failures": [{"scene_id": r["scene_id"], "reason": r["reason"]} for r in failed],
                "mean_fidelity": figures,
                "needs_attention": bool(reasons),
                "reasons": reasons,
            }
        )
    entries.sort(key=lambda e: (not e["needs_attention"], e["product_id"]))
    return {
        "products": len(entries),
        "needs_attention": sum(e["needs_attention"] for e in entries),
        "renders": sum(e["rendered"] for e in entries),
        "low_fidelity_renders": sum(len(e["low_fidelity"]) for e in entries),
        "failed_renders": sum(e["failed"] for e in entries),
        "entries": entries,
    }


def _product_thumb(run_dir: Path, product) -> str | None:
    """A small copy of the product's catalogue photo inside the run folder (relative path)."""
    src = getattr(product, "cutout_path", None) or getattr(product, "image_path", None)
    if not src or not Path(src).exists():
        return None
    rel = f"products/{slug(product.id)}.png"
    dst = run_dir / rel
    if not dst.exists():
        try:
            img = load_image(src, mode="RGBA")
        except ValueError:
            return None
        img.thumbnail((PRODUCT_THUMB_SIDE, PRODUCT_THUMB_SIDE), Image.Resampling.LANCZOS)
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        save_image(Image.alpha_composite(bg, img).convert("RGB"), dst)
    return rel


def _swatch(hex_color: str | None) -> str:
    if not hex_color:
        return ""
    c = html.escape(hex_color)
    return f'<span class="swatch" style="background:{c}"></span>{c}'


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{margin:0 0 4px}.sub{color:#666;margin:0 0 20px}
table.cov{border-collapse:collapse;margin:8px 0 28px;font-size:14px}
table.cov td,table.cov th{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left;vertical-align:top}
section.product{background:#fff;border:1px solid #e3e3e3;border-radius:10px;padding:14px 16px;margin:0 0 18px}
section.product.attention{border-left:6px solid #d9480f}
.head{display:flex;gap:16px;align-items:center}.head img{width:110px;height:110px;object-fit:contain;border:1px solid #eee;border-radius:6px;background:#fff}
.head h2{margin:0;font-size:18px}.meta{color:#555;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:12px;margin-top:12px}
figure{margin:0;width:240px;font-size:12px;overflow-wrap:anywhere}figure img{width:240px;border-radius:6px;display:block}
figcaption{margin-top:4px;color:#333}.fig{color:#666}
.flag{display:inline-block;background:#fff0e6;color:#b3400a;border:1px solid #f5c09f;border-radius:4px;padding:1px 5px;margin:2px 2px 0 0}
.okflag{display:inline-block;background:#ebfbee;color:#2b8a3e;border:1px solid #b2f2bb;border-radius:4px;padding:1px 5px;margin-top:2px}
.fail{color:#c92a2a}.skip{color:#777;font-size:12px;margin-top:8px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:3px;border:1px solid #999;margin-right:4px;vertical-align:-2px}
"""


def contact_sheet_html(records: list[dict], products: dict, scenes: dict, coverage: dict, run_dir: Path, title: str = "Product previews") -> str:
    """The contact sheet as one HTML page (images referenced relative to ``run_dir``)."""
    esc = html.escape
    by_product: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_product[r["product_id"]].append(r)
    backends = sorted({r["backend"] for r in records if r["backend"]})
    n_ok = sum(r["status"] == "ok" for r in records)
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f"<p class='sub'>{len(by_product)} products × {len(scenes)} template scenes: {n_ok} previews, "
        f"{coverage['low_fidelity_renders']} flagged for low fidelity, {coverage['failed_renders']} failed. "
        f"Rendered with: {esc(', '.join(backends) or 'nothing')}.</p>",
    ]
    attention = [e for e in coverage["entries"] if e["needs_attention"]]
    parts.append(f"<h2>Needs attention ({len(attention)})</h2>")
    if attention:
        parts.append("<table class='cov'><tr><th>Product</th><th>Why</th><th>Rendered</th></tr>")
        for e in attention:
            parts.append(
                f"<tr><td><a href='#p-{esc(slug(e['product_id']))}'>{esc(e['title'] or e['product_id'])}</a>"
                f"<br><span class='meta'>{esc(e['product_id'])}</span></td><td>{'<br>'.join(esc(x) for x in e['reasons'])}</td>"
                f"<td>{e['rendered']} ok, {e['skipped']} don't fit, {e['failed']} failed</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p class='sub'>Every product has a good cut-out and renders without fidelity flags.</p>")
    cov_by_id = {e["product_id"]: e for e in coverage["entries"]}
    for pid in sorted(by_product):
        p = products.get(pid)
        e = cov_by_id.get(pid, {})
        thumb = _product_thumb(run_dir, p) if p is not None else None
        cls = "product attention" if e.get("needs_attention") else "product"
        price = getattr(p, "price", None)
        meta = [
            esc(str(getattr(p, "makeup_type", None) or getattr(p, "category", ""))),
            esc(getattr(p, "brand", None) or ""),
            f"{price:.2f} {esc(getattr(p, 'currency', '') or '')}" if isinstance(price, (int, float)) else "no price",
            _swatch(getattr(p, "shade_hex", None)),
        ]
        conf = getattr(p, "cutout_confidence", None)
        if conf is not None and not getattr(p, "makeup_type", None):
            meta.append(f"cut-out confidence {conf:.2f}")
        parts.append(f"<section class='{cls}' id='p-{esc(slug(pid))}'><div class='head'>")
        if thumb:
            parts.append(f"<img src='{esc(thumb)}' alt='catalogue photo' loading='lazy'>")
        parts.append(
            f"<div><h2>{esc(getattr(p, 'title', pid) or pid)}</h2><div class='meta'>{esc(pid)} · "
            + " · ".join(m for m in meta if m)
            + "</div>"
        )
        if e.get("cutout_problem"):
            parts.append(f"<span class='flag'>{esc(e['cutout_problem'])}</span>")
        parts.append("</div></div><div class='grid'>")
        recs = sorted(by_product[pid], key=lambda r: r["scene_id"])
        for r in recs:
            if r["status"] != "ok":
                continue
            figs = ", ".join(f"{k} {figure(v):.3g}" for k, v in sorted(r["fidelity"].items()) if figure(v) is not None)
            flags = "".join(f"<span class='flag'>{esc(f)}</span>" for f in r["flags"]) or "<span class='okflag'>fidelity ok</span>"
            parts.append(
                f"<figure><a href='{esc(r['image'])}'><img src='{esc(r['thumb'])}' loading='lazy' alt='{esc(r['scene_id'])}'></a>"
                f"<figcaption><b>{esc(r['scene_id'])}</b> · {esc(r['backend'])}<br><span class='fig'>{esc(figs)}</span><br>{flags}</figcaption></figure>"
            )
        parts.append("</div>")
        skipped = [r for r in recs if r["status"] == "skipped"]
        failed = [r for r in recs if r["status"] == "failed"]
        for r in failed:
            parts.append(f"<div class='fail'>✗ {esc(r['scene_id'])}: {esc(r['reason'] or 'failed')}</div>")
        if skipped:
            by_reason: dict[str, list[str]] = defaultdict(list)
            for r in skipped:
                by_reason[r["reason"] or "does not fit"].append(r["scene_id"])
            items = []
            for reason, sids in by_reason.items():
                where = f"{len(sids)} scenes" if len(sids) > 2 else ", ".join(sids)
                items.append(f"{esc(where)}: {esc(reason)}")
            parts.append("<div class='skip'>Not placed in " + "; ".join(items) + "</div>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_reports(run_dir: Path, records: list[dict], products: dict, scenes: dict) -> tuple[Path, Path]:
    """Write coverage.json and contact_sheet.html into ``run_dir``; returns their paths."""
    run_dir = Path(run_dir)
    cov = coverage_report(records, products)
    cov_path = write_json_atomic(run_dir / COVERAGE, cov)
    page = contact_sheet_html(records, products, scenes, cov, run_dir)
    sheet = run_dir / CONTACT_SHEET
    tmp = sheet.with_name(f".{sheet.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(sheet)
    return sheet, cov_path


def load_coverage(run_dir: Path) -> dict:
    return json.loads((Path(run_dir) / COVERAGE).read_text())
