"""Item detection rules on synthetic rooms: the objectness test of region proposals (floor
patches are dropped, things with an outline are kept), the "hangs on the wall" cue, and the
labeller's seat-part rule (cushions inside a sofa are cushions, not lamps)."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.room.labels import FurnitureLabeler
from pipelines.room.segment import ClassicalSegmenter, objectness_cues
from pipelines.room.types import MaskProposal

H, W = 400, 600
HORIZON = 150.0
WALL_FOOT = 230  # the row where the wall meets the floor


def _room(seed: int = 0) -> np.ndarray:
    """A flat pale wall over a wooden floor of boards with seams and grain, a dark-blue box
    standing on the floor and a bright window (cross bars) whose sill is below the horizon."""
    rng = np.random.default_rng(seed)
    img = np.zeros((H, W, 3), np.float32)
    img[:WALL_FOOT] = (214, 220, 212)
    # Boards: vertical planks of slightly different browns, dark seams, fine grain noise.
    for i, x in enumerate(range(0, W, 40)):
        img[WALL_FOOT:, x:x + 40] = (150, 105, 65) if i % 2 else (138, 96, 58)
        img[WALL_FOOT:, x:x + 2] = (70, 45, 28)
    img[WALL_FOOT:] += rng.normal(0, 6, (H - WALL_FOOT, W, 1))
    img[WALL_FOOT - 6:WALL_FOOT] = (240, 240, 240)  # skirting
    # Window: bright panes, white frame and cross bars, bottom below the horizon.
    img[60:200, 400:520] = (235, 245, 255)
    img[60:200, 400:404] = img[60:200, 516:520] = img[60:64, 400:520] = img[196:200, 400:520] = 250
    img[60:200, 458:462] = img[128:132, 400:520] = 250
    # The box: a dark-blue thing on the floor, with a little shading.
    img[170:330, 120:300] = (40, 60, 120)
    img[170:185, 120:300] = (55, 78, 140)
    return np.clip(img, 0, 255).astype(np.uint8)


def _rect(x0, y0, x1, y1, score=0.8) -> MaskProposal:
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return MaskProposal.from_mask(m, score, "test")


FLOOR_PATCH = (330, 260, 560, 390)  # boards only
THING = (120, 170, 300, 330)  # the blue box exactly
WINDOW = (400, 60, 520, 200)


def test_floor_patch_is_dropped_and_a_thing_is_kept():
    img = _room()
    seg = ClassicalSegmenter()
    patch, thing = _rect(*FLOOR_PATCH), _rect(*THING)
    cues = objectness_cues(img, [patch.mask, thing.mask], horizon_y=HORIZON)
    assert cues[0]["floor"] > 0.8  # the boards' seams do not hide that it is floor
    assert cues[1]["floor"] < 0.1
    kept = seg.keep_objects(img, [patch, thing])
    assert [p.box for p in kept] == [thing.box]
    assert kept[0].extra["floor"] < 0.1  # the cues travel with the proposal
    # Without the objectness test both would go on to the labeller.
    assert len(ClassicalSegmenter(objectness=False).keep_objects(img, [_rect(*FLOOR_PATCH), _rect(*THING)])) == 2


def test_propose_never_returns_bare_floor():
    img = _room()
    seg = ClassicalSegmenter()
    props = seg.propose(img)
    assert props, "the box at least must be proposed"
    cues = objectness_cues(img, [p.mask for p in props])
    assert max(c["floor"] for c in cues) <= seg.max_floor
    # The box is among them.
    box = _rect(*THING).mask
    assert any(np.logical_and(p.mask, box).sum() / np.logical_or(p.mask, box).sum() > 0.7 for p in props)


def test_window_hangs_but_the_box_stands():
    img = _room()
    win, thing = _rect(*WINDOW), _rect(*THING)
    assert win.box[3] > HORIZON + 0.05 * H  # the horizon rule alone would call it floor-standing
    c_win, c_thing = objectness_cues(img, [win.mask, thing.mask], horizon_y=HORIZON)
    assert c_win["hangs"] == 1.0
    assert c_thing["hangs"] == 0.0


class _PerCropClassifier:
    """Returns the given ImageNet rows in call order (one per crop)."""

    def __init__(self, rows: list[dict[int, float]]):
        self.rows = []
        for probs in rows:
            r = np.zeros(1000, np.float32)
            for i, p in probs.items():
                r[i] = p
            r[999] = 1.0 - r.sum()
            self.rows.append(r)
        self.i = 0

    def classify(self, images):
        out = np.stack(self.rows[self.i:self.i + len(images)])
        self.i += len(images)
        return out


def test_foot_rule_window_below_the_horizon_is_not_storage():
    img = _room()
    win = _rect(*WINDOW)
    win.extra["hangs"] = 1.0
    probs = {894: 0.5, 904: 0.2}  # "wardrobe" and a little "window screen"
    lab = FurnitureLabeler(_PerCropClassifier([probs]), foot_rule=True)
    label, _, scores = lab.label(img, [win], horizon_y=HORIZON)[0]
    assert label != "storage" and "storage" not in scores
    # The horizon alone does not see it hanging: without the foot rule (the default, see its
    # docstring) it stays storage.
    off = FurnitureLabeler(_PerCropClassifier([probs])).label(img, [win], horizon_y=HORIZON)[0]
    assert off[0] == "storage"


def _ellipse(cx, cy, rx, ry) -> MaskProposal:
    yy, xx = np.mgrid[0:H, 0:W]
    return MaskProposal.from_mask(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1, 0.7, "test")


@pytest.mark.parametrize("parts", [True, False])
def test_parts_of_a_sofa(parts):
    img = _room()
    sofa = _rect(100, 150, 400, 330)
    cushion = _ellipse(200, 220, 35, 25)  # small and round, inside the sofa
    arm = _rect(100, 150, 165, 330)  # inside the sofa but a fifth of it: a part, not a cushion
    lamp = _rect(480, 120, 540, 330)  # beside the sofa, not in it
    rows = [{831: 0.6}, {846: 0.3}, {846: 0.2, 532: 0.1}, {846: 0.4}]  # studio couch, table lamp, dining table
    lab = FurnitureLabeler(_PerCropClassifier(rows), parts=parts)
    labels = [t[0] for t in lab.label(img, [sofa, cushion, arm, lamp], horizon_y=HORIZON)]
    if parts:
        assert labels == ["sofa", "cushion", "sofa", "lamp"]  # the arm is a part of the sofa
    else:
        assert labels == ["sofa", "lamp", "lamp", "lamp"]
