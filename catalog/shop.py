"""Shop the look: which catalogue products appear in a room photo?

Retrieval without a trained detector: the room photo goes through the image network ONCE at a
high resolution; its head feature map is pooled (GeM, p=3) over many windows at several scales
(integral images make each window O(1)), plus any boxes a detector proposes; each catalogue
product is scored by its best window. Catalogue vectors are pooled over the product's own pixels
only (the cut-out's alpha), so the white studio background does not count against a product seen
in a room. Scores are then normalised per category, so that categories whose products always look
"far" from rooms (rugs seen at a slant, mirrors that show the room) still reach the top ranks.

Cell matching (:func:`score_cells`) is a second, local score: every feature cell that a product's
alpha covers is matched to its most similar cell of the room's feature map, and the product scores
the mean of those best matches. It needs no window to frame the product, so products partly hidden
or at an odd scale still match by their parts; :func:`score_fused` adds it to the window score
(z-scores, cells at half weight), which measured best on the IKEA rooms (bench/eval_shop_the_look).
Optionally each cell match is penalised by the distance between the two cells' mean Lab colours
(``colour_weight``): colour variants of one model share their shape features but not their colour.

All vectors are float32 and L2-normalised; scores are cosine similarities (or z-scores after the
per-category step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from catalog.efficientnet import MEAN, STD
from catalog.embeddings import ImageEmbedder, _l2n

GEM_P = 3.0
Box = tuple[int, int, int, int]
Detector = Callable[[Image.Image], Sequence[Box]]


def _gem(fmap: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(C, h, w) non-negative -> (C,) generalised mean, optionally weighted by (h, w) weights."""
    f = np.clip(fmap, 1e-6, None) ** GEM_P
    if weights is None:
        m = f.mean(axis=(1, 2))
    else:
        w = weights / max(weights.sum(), 1e-6)
        m = (f * w[None]).sum(axis=(1, 2))
    return m ** (1.0 / GEM_P)


# Lab distances are weighted (L, a, b): lightness changes with the room's light, chroma much less.
LAB_WEIGHTS = np.array([0.5, 1.0, 1.0], np.float32)


def _lab_cells(rgb: np.ndarray, weight: np.ndarray, fh: int, fw: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB, (H, W) pixel weights -> (fh * fw, 3) weighted mean Lab per cell (L 0-100,
    a and b centred on 0). The image is cut into fh x fw equal cells (the remainder is dropped)."""
    import cv2

    lab = cv2.cvtColor(np.ascontiguousarray(rgb, np.uint8), cv2.COLOR_RGB2LAB).astype(np.float32)
    lab = lab * np.array([100 / 255, 1, 1], np.float32) - np.array([0, 128, 128], np.float32)
    cy, cx = rgb.shape[0] // fh, rgb.shape[1] // fw
    w = weight[: fh * cy, : fw * cx].astype(np.float32)
    tot = (lab[: fh * cy, : fw * cx] * w[..., None]).reshape(fh, cy, fw, cx, 3).sum(axis=(1, 3))
    n = w.reshape(fh, cy, fw, cx).sum(axis=(1, 3))
    return (tot / np.maximum(n, 1e-6)[..., None]).reshape(-1, 3)


def _product_maps(embedder: ImageEmbedder, cutouts: Sequence[Image.Image], size: int, colours: bool = False):
    """(N, C, h, w) feature maps of the cut-outs flattened on white, (N, h, w) alpha grids in [0, 1],
    and with ``colours`` (N, h * w, 3) the alpha-weighted mean Lab of each cell (else None)."""
    from catalog.cutout import composite_on
    from catalog.embeddings import NEUTRAL_FILL, letterbox

    flat = [composite_on(c) for c in cutouts]
    fmaps = embedder.feature_maps(flat, size)
    grids, cols = [], []
    for c, rgb, fm in zip(cutouts, flat, fmaps):
        a = letterbox(Image.merge("RGB", [c.getchannel("A")] * 3), size, fill=(0, 0, 0)).convert("L")
        grids.append(np.asarray(a.resize(fm.shape[::-1][:2], Image.BILINEAR), np.float32) / 255.0)
        if colours:  # the same letterbox as the network's input (embedder._tensor)
            px = np.asarray(letterbox(rgb, size, fill=NEUTRAL_FILL))
            cols.append(_lab_cells(px, np.asarray(a, np.float32) / 255.0 + 1e-3, *fm.shape[1:]))
    return fmaps, grids, (cols if colours else None)


def product_vectors(embedder: ImageEmbedder, cutouts: Sequence[Image.Image], size: int = 224,
                    masked: bool = True, both: bool = False):
    """Catalogue side: (N, 1280) GeM of each cut-out's feature map, over its alpha when ``masked``.

    ``cutouts`` are RGBA (cropped to the product, e.g. ``cutout.crop_to_alpha``); they are flattened on
    white (the network saw products on white in training photos too). ``both`` returns
    ``(masked, plain)`` from one forward pass.
    """
    fmaps, grids, _ = _product_maps(embedder, cutouts, size)
    out, plain = [], []
    for w, fm in zip(grids, fmaps):
        plain.append(_gem(fm))
        if not masked and not both:
            out.append(plain[-1])
            continue
        # Cells the product covers count; the network's receptive field brings the edges in anyway.
        out.append(_gem(fm, w + 0.05))
    if both:
        return _l2n(np.stack(out)), _l2n(np.stack(plain))
    return _l2n(np.stack(out))


@dataclass
class ProductCells:
    """The feature cells of every product: ``vectors`` (K, 1280) L2-normalised, ``owner`` (K,) the
    product row each cell belongs to (0..n-1, every product has at least ``min_cells``); ``colours``
    (K, 3) each cell's mean Lab over the product's pixels."""

    vectors: np.ndarray
    owner: np.ndarray
    n: int
    colours: np.ndarray | None = None


def product_cells(embedder: ImageEmbedder, cutouts: Sequence[Image.Image], size: int = 224,
                  min_alpha: float = 0.5, min_cells: int = 2) -> ProductCells:
    """Catalogue side of cell matching: the head-map cells (7x7 at 224) where the cut-out's alpha
    exceeds ``min_alpha`` (the product's own pixels; the white studio background is left out); a
    product with fewer such cells keeps its ``min_cells`` most covered ones."""
    fmaps, grids, pcols = _product_maps(embedder, cutouts, size, colours=True)
    vecs, owner, cols = [], [], []
    for i, (fm, a) in enumerate(zip(fmaps, grids)):
        f, a = fm.reshape(fm.shape[0], -1).T, a.ravel()
        sel = np.flatnonzero(a > min_alpha)
        if len(sel) < min_cells:
            sel = np.argsort(-a, kind="stable")[:min_cells]
        vecs.append(f[sel])
        cols.append(pcols[i][sel])
        owner += [i] * len(sel)
    C = fmaps.shape[1] if len(fmaps) else 1280
    if not vecs:
        return ProductCells(np.zeros((0, C), np.float32), np.zeros(0, np.int64), 0, np.zeros((0, 3), np.float32))
    return ProductCells(_l2n(np.concatenate(vecs)), np.asarray(owner, np.int64), len(fmaps),
                        np.concatenate(cols).astype(np.float32))


@dataclass
class RoomWindows:
    """Pooled window vectors of one room photo: (M, 1280) L2-normalised, and their boxes in pixels;
    ``cells`` (L, 1280) the L2-normalised cells of the feature map(s) themselves (for cell matching)
    and ``cell_colours`` (L, 3) their mean Lab colours."""

    vectors: np.ndarray
    boxes: list[Box]
    cells: np.ndarray | None = None
    cell_colours: np.ndarray | None = None


def room_windows(embedder: ImageEmbedder, image: Image.Image, *, long_side: int = 896,
                 scales: Sequence[float] = (1.0, 0.7, 0.5, 0.35, 0.25), stride: float = 0.5,
                 boxes: Sequence[Box] = (), flip: bool = True) -> RoomWindows:
    """Room side: GeM-pooled windows of the room's feature map at several scales (+ given boxes).

    ``scales`` are window sides as a fraction of the photo's short side; windows are square in
    feature cells and slide by ``stride`` of their side. ``boxes`` (x0, y0, x1, y1 pixels, e.g. from
    a detector) are pooled too. With ``flip`` the mirrored photo's windows are added.
    """
    img = image.convert("RGB")
    W, H = img.size
    s = long_side / max(W, H)
    w, h = max(32, round(W * s / 32) * 32), max(32, round(H * s / 32) * 32)
    views = [img.resize((w, h), Image.BILINEAR)]
    if flip:
        views.append(views[0].transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    vecs, out_boxes, cells, cell_cols = [], [], [], []
    for vi, view in enumerate(views):
        with torch.inference_mode():
            # Not letterboxed: the whole photo at its own aspect ratio, normalised like the embedder's input.
            t = torch.from_numpy(np.asarray(view, np.float32) / 255.0).permute(2, 0, 1)[None]
            t = (t - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
            t = t.contiguous(memory_format=torch.channels_last).to(embedder.device)
            fm = embedder._net_or_load().feature_map(t)[0].float().cpu().numpy()
        C, fh, fw = fm.shape
        cells.append(fm.reshape(C, -1).T)
        px = np.asarray(view)
        cell_cols.append(_lab_cells(px, np.ones(px.shape[:2], np.float32), fh, fw))
        f3 = np.clip(fm, 1e-6, None) ** GEM_P
        # Integral image: any window's mean in O(C).
        ii = np.zeros((C, fh + 1, fw + 1), np.float64)
        ii[:, 1:, 1:] = f3.cumsum(1).cumsum(2)
        cell_x, cell_y = W / fw, H / fh

        def pool(y0, x0, y1, x1):
            tot = ii[:, y1, x1] - ii[:, y0, x1] - ii[:, y1, x0] + ii[:, y0, x0]
            tot = np.maximum(tot, 0.0)  # cumulative sums can undershoot by rounding
            return (tot / max(1, (y1 - y0) * (x1 - x0))) ** (1 / GEM_P)

        for sc in scales:
            side = max(1, round(sc * min(fh, fw)))
            step = max(1, round(side * stride))
            for y0 in range(0, max(1, fh - side + 1), step):
                for x0 in range(0, max(1, fw - side + 1), step):
                    vecs.append(pool(y0, x0, min(fh, y0 + side), min(fw, x0 + side)))
                    bx = (x0 * cell_x, y0 * cell_y, min(fw, x0 + side) * cell_x, min(fh, y0 + side) * cell_y)
                    if vi == 1:
                        bx = (W - bx[2], bx[1], W - bx[0], bx[3])
                    out_boxes.append(tuple(int(round(v)) for v in bx))
        vecs.append(pool(0, 0, fh, fw))  # the whole photo
        out_boxes.append((0, 0, W, H))
        for bx in boxes:
            x0, y0, x1, y1 = bx
            if vi == 1:
                x0, x1 = W - x1, W - x0
            cx0, cy0 = int(np.floor(x0 / cell_x)), int(np.floor(y0 / cell_y))
            cx1, cy1 = max(cx0 + 1, int(np.ceil(x1 / cell_x))), max(cy0 + 1, int(np.ceil(y1 / cell_y)))
            vecs.append(pool(max(0, cy0), max(0, cx0), min(fh, cy1), min(fw, cx1)))
            out_boxes.append(tuple(int(v) for v in bx))
    return RoomWindows(_l2n(np.stack(vecs).astype(np.float32)), out_boxes, _l2n(np.concatenate(cells)),
                       np.concatenate(cell_cols).astype(np.float32))


def score_products(windows: RoomWindows, product_vecs: np.ndarray, categories: Sequence[str] | None = None,
                   top_windows: int = 1) -> np.ndarray:
    """(N,) score per product: its best window's cosine (mean of the best ``top_windows``), then
    z-normalised within each category when ``categories`` is given."""
    sims = product_vecs @ windows.vectors.T  # (N, M)
    if top_windows > 1:
        part = np.partition(sims, -top_windows, axis=1)[:, -top_windows:]
        best = part.mean(axis=1)
    else:
        best = sims.max(axis=1)
    if categories is None:
        return best
    cats = np.asarray(categories)
    out = np.empty_like(best)
    for c in np.unique(cats):
        m = cats == c
        v = best[m]
        out[m] = (v - v.mean()) / (v.std() + 1e-6)
    return out


def score_cells(windows: RoomWindows, cells: ProductCells, colour_weight: float = 0.0,
                chunk: int = 4096) -> np.ndarray:
    """(N,) cell-matching score per product: the mean, over the product's cells, of each cell's best
    match with any cell of the room (``windows.cells``): cosine minus ``colour_weight`` x the weighted
    Lab distance of the two cells' mean colours (0.008 ~ a cosine of 0.1 per 12 Lab units)."""
    if windows.cells is None:
        raise ValueError("these RoomWindows carry no cells (made by room_windows?)")
    use_col = colour_weight > 0
    if use_col and (windows.cell_colours is None or cells.colours is None):
        raise ValueError("colour_weight needs cell colours on both sides")
    if use_col:  # |p - r|^2 = |p|^2 + |r|^2 - 2 p.r, in float64 so that equal colours give ~0
        pc = cells.colours.astype(np.float64) * LAB_WEIGHTS
        rc = windows.cell_colours.astype(np.float64) * LAB_WEIGHTS
        pn, rn = (pc * pc).sum(axis=1), (rc * rc).sum(axis=1)
    best = np.empty(len(cells.vectors), np.float32)
    for i in range(0, len(best), chunk):  # bounded memory: chunk x room cells
        sim = cells.vectors[i:i + chunk] @ windows.cells.T
        if use_col:
            d2 = pn[i:i + chunk, None] + rn[None] - 2.0 * (pc[i:i + chunk] @ rc.T)
            sim -= (colour_weight * np.sqrt(np.maximum(d2, 0.0))).astype(np.float32)
        best[i:i + chunk] = sim.max(axis=1)
    return (np.bincount(cells.owner, weights=best, minlength=cells.n)
            / np.maximum(np.bincount(cells.owner, minlength=cells.n), 1)).astype(np.float32)


def _z(v: np.ndarray) -> np.ndarray:
    return (v - v.mean()) / (v.std() + 1e-6)


def score_fused(windows: RoomWindows, product_vecs: np.ndarray, cells: ProductCells,
                cell_weight: float = 0.5, colour_weight: float = 0.0) -> np.ndarray:
    """(N,) the window score (:func:`score_products`) plus ``cell_weight`` x the cell-matching score
    (:func:`score_cells`, with ``colour_weight``), each z-scored over the catalogue so that the two
    are on one scale."""
    return (_z(score_products(windows, product_vecs))
            + cell_weight * _z(score_cells(windows, cells, colour_weight)))
