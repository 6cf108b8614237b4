"""The face try-on pipeline: photo in; regions, skin, tone and N rendered looks out."""

from __future__ import annotations

import itertools
import time
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from pipelines.intake import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, load_image
from pipelines.tryon import landmarks as L
from pipelines.tryon import render as R
from pipelines.tryon.color import hex_to_lab
from pipelines.tryon.landmarks import Face, FaceMesh, PersonSegmenter
from pipelines.tryon.refine import refine_mouth, refine_with_skin, remove_hair_from_lips
from pipelines.tryon.regions import mesh_regions
from pipelines.tryon.shades import rank_products
from pipelines.tryon.skin import BACKEND as SKIN_BACKEND
from pipelines.tryon.skin import prior_seeds, skin_mask, skin_probability
from pipelines.tryon.tone import estimate_light, estimate_tone, is_greyscale, sclera_pixels, tone_from_monk
from pipelines.tryon.types import FINISHES, MAKEUP_TYPES, FaceAnalysis, Look, LookRequest, LookSet

REGION_OF = {"lipstick": "lips", "eyeshadow": "eyeshadow", "blush": "cheeks", "foundation": "face_skin"}
# Pixels each product must never touch.
PROTECT_OF = {
    "lipstick": ("mouth_interior", "lip_hair"),
    "eyeshadow": ("eyes", "brows"),
    "blush": ("eyes", "mouth"),
    "foundation": ("eyes", "brows", "mouth"),
}


def product_ref(p) -> dict:
    """A product's reference for results: ``Product.ref()`` plus makeup type and finish."""
    if hasattr(p, "ref"):
        d = dict(p.ref())
    else:
        d = {k: getattr(p, k, None) for k in ("id", "title", "brand", "category", "price", "currency", "url", "shade_hex", "shade_name")}
    d["makeup_type"] = getattr(p, "makeup_type", None)
    d["finish"] = getattr(p, "finish", None) or "satin"
    return d


class TryOnPipeline:
    """Face try-on on the CPU.

    Args:
        face_mesh: a loaded :class:`~pipelines.tryon.landmarks.FaceMesh` (kept across calls).
        person_segmenter: a loaded :class:`~pipelines.tryon.landmarks.PersonSegmenter`.
        catalog: where shades come from (``.list(makeup_type=...)``, ``.get(id)``), or None.
        work_max_side: photos are resized so their long side is at most this.
        num_looks: default N.
        max_bytes, max_pixels: intake limits for photos given as bytes or paths.
    """

    def __init__(
        self,
        face_mesh: FaceMesh,
        person_segmenter: PersonSegmenter,
        catalog=None,
        work_max_side: int = 1024,
        num_looks: int = 20,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ):
        self.face_mesh = face_mesh
        self.person_segmenter = person_segmenter
        self.catalog = catalog
        self.work_max_side = int(work_max_side)
        self.num_looks = int(num_looks)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    @classmethod
    def from_settings(cls, settings, catalog=None) -> "TryOnPipeline":
        """The CPU default: mediapipe's face mesh and selfie segmentation from the wheel."""
        from app.backends import choose

        for cap in ("face_landmarks", "person_segmentation"):
            choose(cap, settings)  # raises with the reason when mediapipe's models are missing
        return cls(
            FaceMesh(max_faces=4, video=False),
            PersonSegmenter(),
            catalog=catalog,
            work_max_side=settings.work_max_side,
            num_looks=settings.num_combinations,
            max_bytes=settings.max_upload_bytes,
            max_pixels=settings.max_image_pixels,
        )

    @property
    def backend(self) -> str:
        return f"{self.face_mesh.backend}+{self.person_segmenter.backend}+{SKIN_BACKEND}"

    # ------------------------------------------------------------------ inputs
    def check_inputs(self, image) -> Image.Image:
        """Decode and size a photo (PIL image, numpy RGB uint8, bytes or path).

        Raises:
            ValueError: (``ImageRejected`` included) with a specific message.
        """
        if isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got shape {image.shape} dtype {image.dtype}")
            image = Image.fromarray(image)
        img = load_image(image, max_bytes=self.max_bytes, max_pixels=self.max_pixels)
        if min(img.size) < 32:
            raise ValueError(f"photo is {img.width}x{img.height}: too small to find a face (need at least 32 px a side)")
        s = self.work_max_side / max(img.size)
        if s < 1:
            img = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.LANCZOS)
        return img

    # ------------------------------------------------------------------ analysis
    def analyze(self, image, faces: Literal["all", "largest"] = "all") -> FaceAnalysis:
        """Find faces, their regions, all visible skin, the light and the skin tone.

        Args:
            image: the photo (anything :meth:`check_inputs` accepts).
            faces: "all" faces or only the "largest".
        """
        if faces not in ("all", "largest"):
            raise ValueError(f"faces must be 'all' or 'largest', got {faces!r}")
        t0 = time.perf_counter()
        img = self.check_inputs(image)
        rgb = np.asarray(img)
        h, w = rgb.shape[:2]
        timings = {}
        found = self.face_mesh.detect(rgb)
        timings["landmarks_ms"] = (time.perf_counter() - t0) * 1000
        if faces == "largest":
            found = found[:1]
        t = time.perf_counter()
        person = self.person_segmenter.person_probability(rgb)
        timings["person_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        per_face = []
        for f in found:
            r = mesh_regions(f, rgb.shape)
            r = refine_mouth(rgb, f, r)
            r = remove_hair_from_lips(rgb, r)
            per_face.append(r)
        timings["regions_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        not_skin = np.zeros((h, w), bool)
        if per_face:
            seeds = np.zeros((h, w), bool)
            for f, r in zip(found, per_face):
                seeds |= _seed_mask(f, r)
                not_skin |= r["eyes"] | r["brows"] | r["mouth_interior"]
        else:
            seeds = prior_seeds(rgb, person > 0.5)
        # Local contrast as a feature separates hair from neck and ears, but inside the face it
        # mistakes pores, stubble and shading for hair: the face uses a colour-only model
        # (FASSEG: all-skin IoU 0.900 vs 0.895, face-skin IoU 0.953 vs 0.949).
        prob = skin_probability(rgb, seeds, person, not_skin, texture=True)
        prob_face = skin_probability(rgb, seeds, person, not_skin, texture=False) if per_face else prob
        skin = skin_mask(prob, seeds, threshold=0.4)  # 0.3 / 0.4 / 0.5 gave IoU 0.898 / 0.900 / 0.8995 on FASSEG
        per_face = [refine_with_skin(f, r, prob_face, 0.1) for f, r in zip(found, per_face)]
        for r in per_face:
            skin &= ~(r["eyes"] | r["brows"] | r["mouth"])
            # Inside the face outline the mesh is strong evidence: only confident non-skin
            # (hair over the forehead, a beard, glasses) is removed.
            skin |= r["face_skin"]
        timings["skin_ms"] = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        grey = is_greyscale(rgb)
        sclera = None
        if found:
            f0, r0 = found[0], per_face[0]
            irises = [_iris(f0, L.RIGHT_IRIS), _iris(f0, L.LEFT_IRIS)]
            sclera = sclera_pixels(rgb, r0["eyes"], irises)
            tone_px = _seed_mask(f0, r0) & (prob_face >= 0.5)
            if tone_px.sum() < 30:
                tone_px = r0["face_skin"]
        else:
            tone_px = skin
        light = estimate_light(rgb, skin, sclera, skin_px=rgb[tone_px] if tone_px.any() else None)
        tone = estimate_tone(rgb, tone_px, light, greyscale=grey)
        timings["tone_ms"] = (time.perf_counter() - t) * 1000

        regions = {}
        for r in per_face:
            r.setdefault("lip_hair", np.zeros((h, w), bool))
        for r in per_face:
            for k, v in r.items():
                regions[k] = regions[k] | v if k in regions else v.copy()
        if found:
            msg = f"{len(found)} face{'s' if len(found) > 1 else ''} found"
            yaws = [abs(f.yaw()) for f in found]
            if max(yaws) > 0.6:
                msg += " (one is turned to the side: regions on the far side are approximate)"
        else:
            msg = ("no face found (turned away, covered or too small): makeup needs a face, "
                   "but the skin and its tone were estimated" if skin.sum() >= 30 else
                   "no face and no skin found in this photo")
        if grey:
            msg += "; the photo is greyscale, so the skin tone's colour and undertone are unknown"
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        return FaceAnalysis(
            faces=found, regions=regions, skin_mask=skin, tone=tone, backend=self.backend,
            message=msg, person_mask=person > 0.5, light=light, size=(w, h), face_regions=per_face,
            timings=timings,
        )

    # ------------------------------------------------------------------ rendering
    def render(self, image, analysis: FaceAnalysis, products: list, opacity: float | None = None, seed: int = 0) -> Look:
        """Render one look: ``products`` (each with makeup_type, shade_hex, finish) on every
        analysed face."""
        img = self.check_inputs(image)
        if img.size != tuple(analysis.size):
            raise ValueError(f"analysis is for a {analysis.size[0]}x{analysis.size[1]} photo, this one is {img.width}x{img.height}: analyse it first")
        if not analysis.faces:
            raise ValueError("no face was found in this photo, so makeup cannot be placed: " + analysis.message)
        t0 = time.perf_counter()
        canvas = np.asarray(img).astype(np.float32) / 255.0
        rng = np.random.default_rng(seed)
        refs, fidelity = [], {}
        # Foundation first: the other products sit on top of it.
        order = sorted(products, key=lambda p: 0 if getattr(p, "makeup_type", None) == "foundation" else 1)
        for p in order:
            kind = getattr(p, "makeup_type", None)
            if kind not in MAKEUP_TYPES:
                raise ValueError(f"product {getattr(p, 'id', p)!r} has makeup_type {kind!r}; expected one of {', '.join(MAKEUP_TYPES)}")
            finish = getattr(p, "finish", None) or "satin"
            if finish not in FINISHES:
                raise ValueError(f"product {getattr(p, 'id', p)!r} has finish {finish!r}; expected one of {', '.join(FINISHES)}")
            shade = hex_to_lab(p.shade_hex)  # ValueError names a malformed hex
            stats = []
            for r in analysis.face_regions:
                protect = np.zeros_like(r["lips"])
                for k in PROTECT_OF[kind]:
                    if k in r:
                        protect |= r[k]
                reg = R.Region.from_mask(r[REGION_OF[kind]], kind=kind, protect=protect)
                if reg is None:
                    continue
                stats.append(R.render_product(canvas, reg, shade, kind, finish, opacity, analysis.light, rng))
            ref = product_ref(p)
            ref["opacity"] = R.STYLES[kind].opacity if opacity is None else float(opacity)
            refs.append(ref)
            if stats:
                fidelity[str(ref.get("id"))] = {
                    "delta_e": round(float(np.nanmean([s["delta_e"] for s in stats])), 3),
                    "texture_corr": round(float(np.nanmean([s["texture_corr"] for s in stats])), 4),
                }
        out = Image.fromarray(np.clip(canvas * 255.0 + 0.5, 0, 255).astype(np.uint8))
        desc = " + ".join(f"{r.get('shade_name') or r.get('title')} {r['makeup_type']}" for r in refs)
        return Look(image=out, products=refs, backend=R.BACKEND, description=desc, fidelity=fidelity,
                    timings={"render_ms": (time.perf_counter() - t0) * 1000}, seed=seed)

    # ------------------------------------------------------------------ looks
    def _check_request(self, req: LookRequest) -> None:
        if not isinstance(req.n, int) or req.n < 1:
            raise ValueError(f"n must be a positive integer, got {req.n!r}")
        bad = [t for t in req.product_types if t not in MAKEUP_TYPES]
        if bad or not req.product_types:
            raise ValueError(f"product_types must be a non-empty subset of {', '.join(MAKEUP_TYPES)}; got {req.product_types!r}")
        if req.tone_override is not None and not (isinstance(req.tone_override, int) and 1 <= req.tone_override <= 10):
            raise ValueError(f"tone_override must be a Monk level 1..10 or None, got {req.tone_override!r}")
        if req.opacity is not None and not 0 <= req.opacity <= 1:
            raise ValueError(f"opacity must be in [0, 1], got {req.opacity}")
        if req.price_min is not None and req.price_max is not None and req.price_min > req.price_max:
            raise ValueError(f"price_min {req.price_min} is above price_max {req.price_max}")
        if self.catalog is None:
            raise ValueError("no catalogue: build the pipeline with catalog=Catalog.open(settings)")

    def _candidates(self, kind: str, req: LookRequest) -> list:
        out = []
        for p in self.catalog.list(makeup_type=kind):
            if not getattr(p, "shade_hex", None):
                continue
            if req.brand and (getattr(p, "brand", None) or "").lower() != req.brand.lower():
                continue
            price = getattr(p, "price", None)
            if req.price_min is not None and (price is None or price < req.price_min):
                continue
            if req.price_max is not None and (price is None or price > req.price_max):
                continue
            out.append(p)
        return out

    def looks(self, image, analysis: FaceAnalysis, request: LookRequest | None = None) -> LookSet:
        """N looks for a photo already analysed.

        With ``request.product_id``: one look per shade of that product. Otherwise each look
        combines one shade of each requested type, the shades that suit the tone first.
        """
        req = request or LookRequest(n=self.num_looks)
        self._check_request(req)
        img = self.check_inputs(image)
        tone = tone_from_monk(req.tone_override, analysis.tone) if req.tone_override is not None else analysis.tone
        if req.product_id is not None:
            base = self.catalog.get(req.product_id)
            if base is None:
                raise ValueError(f"no product with id {req.product_id!r} in the catalogue")
            kind = getattr(base, "makeup_type", None)
            if kind not in MAKEUP_TYPES:
                raise ValueError(f"product {req.product_id!r} is not makeup (makeup_type={kind!r})")
            same = [p for p in self.catalog.list(makeup_type=kind)
                    if getattr(p, "title", None) == base.title and getattr(p, "brand", None) == getattr(base, "brand", None)]
            shades = rank_products(same or [base], tone, kind)[: req.n]
            combos = [[p] for p in shades]
        else:
            ranked = []
            for kind in req.product_types:
                c = rank_products(self._candidates(kind, req), tone, kind)
                if not c:
                    raise ValueError(f"no {kind} shades in the catalogue match the filters (brand={req.brand!r}, price {req.price_min}..{req.price_max})")
                ranked.append(c)
            combos = _combinations(ranked, req.n, req.seed)
        looks = [self.render(img, analysis, combo, opacity=req.opacity, seed=req.seed + i) for i, combo in enumerate(combos)]
        msg = analysis.message
        if len(looks) < req.n:
            msg += f"; only {len(looks)} looks are possible with these filters"
        return LookSet(looks=looks, before=img, tone=tone, backend=R.BACKEND, request=req, message=msg)


def _combinations(ranked: list[list], n: int, seed: int) -> list[list]:
    """Up to ``n`` distinct combinations, one product per list, best-ranked first.

    Combinations are ordered by the sum of their ranks (so the first is the best shade of
    every type); among equal sums the seed decides. Looks therefore vary across all types.
    """
    k = 1
    total = lambda k: int(np.prod([min(k, len(r)) for r in ranked]))  # noqa: E731
    while total(k) < n and k < max(len(r) for r in ranked):
        k += 1
    pools = [r[:k] for r in ranked]
    rng = np.random.default_rng(seed)
    idx = list(itertools.product(*[range(len(p)) for p in pools]))
    tie = rng.random(len(idx))
    order = sorted(range(len(idx)), key=lambda i: (sum(idx[i]), tie[i]))
    return [[pools[j][i] for j, i in enumerate(idx[o])] for o in order[:n]]


def _iris(face: Face, idx: list[int]) -> tuple[float, float, float]:
    pts = face.points(idx)
    c = pts[0]
    r = float(np.linalg.norm(pts[1:] - c, axis=1).mean())
    return float(c[0]), float(c[1]), r


def _seed_mask(face: Face, regions: dict) -> np.ndarray:
    """Reliable skin samples of one face: its skin eroded away from every edge (hairline,
    eyes, brows, mouth), so hair and shadows at the borders are not learned as skin. On a
    face turned to the side only the visible side is used: the mesh's far half then lies on
    hair, a hat or the background."""
    fs = regions["face_skin"].astype(np.uint8)
    k = max(3, int(round(0.04 * (face.box[2] - face.box[0]))) | 1)
    seeds = cv2.erode(fs, np.ones((k, k), np.uint8)).astype(bool)
    yaw = face.yaw()
    if abs(yaw) > 0.35:
        nose_x = int(round(float(face.landmarks[L.NOSE_TIP, 0])))
        side = np.zeros_like(seeds)
        if yaw < 0:  # nose toward the image's left: the visible cheek is to its right
            side[:, nose_x:] = True
        else:
            side[:, :nose_x] = True
        if (seeds & side).sum() >= 30:
            seeds &= side
    return seeds
