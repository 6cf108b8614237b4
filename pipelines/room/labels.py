"""Naming region proposals: "sofa", "lamp", "rug"... with a confidence.

Each proposal is cropped from the photo (outside its mask faded toward white, so the crop looks
like a catalogue photo while keeping a hint of context) and given to an ImageNet classifier
(engineer A's ``catalog.embeddings.ImageEmbedder.classify``, EfficientNet-Lite0 by default).
ImageNet's furniture classes are folded into the catalogue's room words with
:data:`IMAGENET_TO_ROOM`. When a catalogue search is available, the categories of the nearest
catalogue products vote too (the catalogue's categories are the same room words).
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np
from PIL import Image

from pipelines.room.types import MaskProposal

# ImageNet-1k class index -> room word. Names from torchvision's ImageNet category list.
IMAGENET_TO_ROOM: dict[int, str] = {
    831: "sofa",  # studio couch
    765: "armchair", 423: "armchair", 857: "armchair",  # rocking chair, barber chair, throne
    559: "chair", 703: "chair",  # folding chair, park bench
    532: "table", 526: "table", 736: "table",  # dining table, desk, pool table
    564: "bed", 520: "bed", 516: "bed", 431: "bed", 750: "bed",  # four-poster, crib, cradle, bassinet, quilt
    846: "lamp", 619: "lamp", 818: "lamp",  # table lamp, lampshade, spotlight
    741: "rug", 539: "rug",  # prayer rug, doormat
    # Not plate rack (729): on room photos it fires on any grid (chair backs, window bars, tiles):
    # dropping it raised shelf precision without losing a correct shelf (bench.eval_items).
    453: "shelf", 454: "shelf",  # bookcase, bookshop
    495: "storage", 493: "storage", 894: "storage", 553: "storage", 648: "storage",
    492: "storage", 548: "storage", 588: "storage", 790: "storage",  # cabinets, chest, wardrobe, hamper, basket
    721: "cushion",  # pillow
    738: "plant", 883: "plant",  # pot (flowerpot), vase
    905: "curtain", 794: "curtain", 854: "curtain", 904: "curtain",  # window shade, shower/theater curtain, window screen
}
FURNITURE = ("sofa", "armchair", "chair", "table", "bed", "lamp", "rug", "shelf", "storage", "mirror", "cushion", "plant")
# ImageNet classes of things that hang on or belong to walls and are not furniture: screens and
# pictures (screen, television, monitor, desktop computer, home theater, web site, book jacket,
# comic book, jigsaw puzzle, crossword, menu, envelope, binder), windows and doors (window screen,
# window shade, sliding door, shoji), clocks, switch, radiator, fire screen, stone wall.
WALL_THINGS = (782, 851, 664, 527, 598, 916, 921, 917, 611, 918, 922, 549, 446,
               904, 905, 799, 789, 892, 409, 844, 753, 556, 825)
# Labels a region hanging on the wall (ending above the floor) may not take: ImageNet calls a
# window or a framed picture "wardrobe", "medicine chest" or "bookcase".
NOT_ON_WALLS = ("storage", "shelf")
# Furniture whose parts (cushions, arms, a seat) the proposals often find on their own.
SEATS = ("sofa", "bed", "armchair")


class Classifier(Protocol):
    def classify(self, images: list[Image.Image]) -> np.ndarray: ...


def proposal_crop(image: np.ndarray, mask: np.ndarray, box, size: int = 224, fade: float = 0.65, margin: float = 0.08) -> Image.Image:
    """A square catalogue-like view of one proposal.

    Args:
        image: (H, W, 3) uint8 RGB.
        mask: (H, W) bool.
        box: (x0, y0, x1, y1) of the mask.
        fade: how far (0-1) pixels outside the mask are blended toward white.
    Returns:
        PIL RGB ``size`` x ``size``, the crop letter-boxed on white (aspect kept).
    """
    H, W = mask.shape
    x0, y0, x1, y1 = box
    mx, my = int((x1 - x0) * margin) + 2, int((y1 - y0) * margin) + 2
    X0, Y0, X1, Y1 = max(0, x0 - mx), max(0, y0 - my), min(W, x1 + mx), min(H, y1 + my)
    crop = image[Y0:Y1, X0:X1].astype(np.float32)
    m = mask[Y0:Y1, X0:X1].astype(np.float32)
    m = cv2.GaussianBlur(m, (0, 0), 1.0)[..., None]
    crop = crop * (m + (1 - m) * (1 - fade)) + 255.0 * (1 - m) * fade
    h, w = crop.shape[:2]
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    canvas = np.full((size, size, 3), 255.0, np.float32)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    canvas[oy:oy + nh, ox:ox + nw] = small
    return Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8))


def fold_probs(probs: np.ndarray, mapping: dict[int, str] | None = None) -> list[dict[str, float]]:
    """(N, 1000) ImageNet probabilities -> per row {room word: summed probability}.

    ``mapping``: ImageNet index -> room word (default :data:`IMAGENET_TO_ROOM`).
    """
    out = []
    for row in np.asarray(probs):
        d: dict[str, float] = {}
        for idx, word in (IMAGENET_TO_ROOM if mapping is None else mapping).items():
            d[word] = d.get(word, 0.0) + float(row[idx])
        out.append(d)
    return out


class FurnitureLabeler:
    """Labels proposals with room words.

    Args:
        classifier: anything with ``classify(list[PIL]) -> (N, 1000) ImageNet probabilities``.
        search: optional ``catalog.search.CatalogSearch``; nearest catalogue products vote with
            their category (weight ``catalog_weight``).
        batch: crops per classifier call.
        mapping: ImageNet index -> room word (default :data:`IMAGENET_TO_ROOM`).
        rules: apply the wall rules when :meth:`label` is given the horizon: a region ending
            above the floor whose classifier mass on :data:`WALL_THINGS` exceeds ``wall_ratio``
            times its furniture mass is not furniture (a window, a picture, a screen), and such a
            region is never :data:`NOT_ON_WALLS`. ``False`` gives the labels of the first
            measurement (bench.eval_items "baseline").
        foot_rule: a proposal whose ``extra["hangs"]`` is set (``ClassicalSegmenter`` sets it
            when the region ends above the line where wall meets floor) hangs on the wall too:
            windows come down below the horizon. Off by default: measured (bench.eval_items
            "foot") it turns the demo window from storage to "lamp" but costs IKEA every correct
            shelf (wall shelves are furniture) and 6 correct storage rooms.
        parts: a region lying inside a sofa, bed or armchair region is a part of it: a small
            compact one is a cushion, any other takes the seat's label (so the pipeline drops
            it as a part of the seat). Off by default: measured ("parts") it makes cushions of
            everything inside mislabelled "sofa" regions (a dining set) and lowers IKEA AP.
        vote_flip: search the catalogue with the mean of each crop's and its mirror's embedding
            (as ``search.by_image`` does by default). Off: measured (bench.eval_items "noflip"
            vs "current", IKEA votes, 64 rooms) the same category precision/recall/AP within
            0.004, for one network pass per crop less (detection ~0.5 s faster).
    """

    def __init__(self, classifier: Classifier, search=None, catalog_weight: float = 0.35, batch: int = 32,
                 mapping: dict[int, str] | None = None, rules: bool = True, wall_ratio: float = 1.0,
                 foot_rule: bool = False, parts: bool = False, vote_flip: bool = False):
        self.classifier = classifier
        self.search = search
        self.catalog_weight = catalog_weight
        self.batch = batch
        self.mapping = dict(IMAGENET_TO_ROOM if mapping is None else mapping)
        self.rules = rules
        self.wall_ratio = wall_ratio
        self.foot_rule = foot_rule
        self.parts = parts
        self.vote_flip = vote_flip

    @property
    def backend(self) -> str:
        return getattr(self.classifier, "backend", type(self.classifier).__name__)

    def label(self, image: np.ndarray, proposals: list[MaskProposal],
              horizon_y: float | None = None) -> list[tuple[str, float, dict[str, float]]]:
        """For each proposal: (label, label probability in [0, 1], {word: probability} top 3).

        Args:
            horizon_y: the photo's horizon row (``geometry.estimate_horizon``); with it a region
                ending above ``horizon_y + 0.05 H`` counts as hanging on the wall (see ``rules``).
        Returns:
            one tuple per proposal; ("object", 0.0, {}) when no furniture word gets any weight or
            a wall rule rejects the region.
        """
        if not proposals:
            return []
        crops = [proposal_crop(image, p.mask, p.box) for p in proposals]
        voting = self.search is not None and self.catalog_weight > 0
        # The catalogue is searched with the classifier's own embeddings when they live in the
        # index's space: one network pass per crop serves both (plus one for the mirrored crop).
        shared = voting and hasattr(self.classifier, "classify_and_embed") and \
            getattr(self.classifier, "model_name", None) == getattr(getattr(self.search, "image_embedder", None), "model_name", "")
        probs, vectors = [], []
        for i in range(0, len(crops), self.batch):
            chunk = crops[i:i + self.batch]
            if shared:
                p, v = self.classifier.classify_and_embed(chunk)
                if self.vote_flip:
                    v = v + self.classifier.embed([c.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for c in chunk])
                vectors.append(v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12))
            else:
                p = self.classifier.classify(chunk)
            probs.append(np.asarray(p, dtype=np.float32))
        probs = np.concatenate(probs, 0)
        folded = fold_probs(probs, self.mapping)
        if voting:
            folded = self._add_catalog_votes(crops, folded, np.concatenate(vectors) if shared else None)
        if self.rules and horizon_y is not None:
            wall_line = horizon_y + 0.05 * image.shape[0]
            folded = [self._wall_rules(d, row)
                      if p.box[3] < wall_line or (self.foot_rule and p.extra.get("hangs", 0.0) > 0.5) else d
                      for p, d, row in zip(proposals, folded, probs)]
        if self.parts:
            folded = self._seat_parts(proposals, folded)
        out = []
        for d in folded:
            top = sorted(d.items(), key=lambda kv: -kv[1])[:3]
            word, p = top[0] if top and top[0][1] > 0 else ("object", 0.0)
            out.append((word, float(min(1.0, p)), {k: float(v) for k, v in top if v > 0}))
        return out

    def _wall_rules(self, d: dict[str, float], probs: np.ndarray) -> dict[str, float]:
        """Scores of a region hanging on the wall: {} when it looks more like a window, picture
        or screen than like furniture, else ``d`` without :data:`NOT_ON_WALLS`."""
        mass = sum(v for k, v in d.items() if k in FURNITURE)
        if float(np.asarray(probs)[list(WALL_THINGS)].sum()) > self.wall_ratio * mass:
            return {}
        return {k: v for k, v in d.items() if k not in NOT_ON_WALLS}

    @staticmethod
    def _seat_parts(proposals: list[MaskProposal], folded: list[dict[str, float]],
                    inside: float = 0.8, max_part: float = 0.35, max_cushion: float = 0.15,
                    min_solidity: float = 0.85) -> list[dict[str, float]]:
        """Scores after the seat-part rule (see ``parts``): a region with ``inside`` of its area
        within a region labelled sofa/bed/armchair and at most ``max_part`` of its size is a
        cushion when it is compact (convex-hull solidity >= ``min_solidity``) and at most
        ``max_cushion`` of the seat's size, else a part of the seat."""
        def top(d):
            furn = {k: v for k, v in d.items() if k in FURNITURE and v > 0}
            return max(furn, key=furn.get) if furn else None

        tops = [top(d) for d in folded]
        seats = [j for j, t in enumerate(tops) if t in SEATS]
        if not seats:
            return folded
        step = max(1, round(max(proposals[0].mask.shape) / 160))
        small = [p.mask[::step, ::step] for p in proposals]
        area = [max(int(m.sum()), 1) for m in small]
        out = list(folded)
        for i, d in enumerate(folded):
            if tops[i] is None or tops[i] in SEATS or tops[i] == "cushion":
                continue
            best = None
            for j in seats:
                if j != i and area[i] <= max_part * area[j] and np.logical_and(small[i], small[j]).sum() >= inside * area[i]:
                    if best is None or area[j] > area[best]:
                        best = j
            if best is None:
                continue
            mass = sum(v for k, v in d.items() if k in FURNITURE)
            cnts, _ = cv2.findContours(small[i].astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            hull = cv2.contourArea(cv2.convexHull(np.concatenate(cnts))) if cnts else 0.0
            solidity = area[i] / max(hull, 1.0)
            cushion = area[i] <= max_cushion * area[best] and solidity >= min_solidity
            out[i] = {("cushion" if cushion else tops[best]): mass}
        return out

    def _add_catalog_votes(self, crops, folded, vectors=None):
        """Mix in the categories of each crop's 10 nearest catalogue products. ``vectors``: the
        crops' image embeddings (made as ``search.by_image`` would, see ``vote_flip``), if known."""
        try:
            if vectors is not None:
                all_hits = self.search.by_image_vectors(vectors, k=10)
            else:
                all_hits = [self.search.by_image(crop, k=10, flip=self.vote_flip) for crop in crops]
        except Exception:  # noqa: BLE001 - an empty or unindexed catalogue must not stop detection
            return folded
        mixed = []
        for hits, d in zip(all_hits, folded):
            votes: dict[str, float] = {}
            for h in hits:
                cat = getattr(h.product, "category", None)
                if cat in FURNITURE:
                    votes[cat] = votes.get(cat, 0.0) + max(0.0, float(h.score))
            tot = sum(votes.values())
            w = self.catalog_weight if tot > 0 else 0.0
            # Votes say *which* furniture, never *whether*: they share out the classifier's own
            # furniture mass (a wall patch's nearest products still have a category).
            mass = sum(v for k, v in d.items() if k in FURNITURE)
            keys = set(d) | set(votes)
            mixed.append({k: (1 - w) * d.get(k, 0.0) + w * mass * (votes.get(k, 0.0) / tot if tot else 0.0) for k in keys})
        return mixed
