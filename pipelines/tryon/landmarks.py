"""Face landmarks: mediapipe's face mesh (478 points) kept loaded across calls.

The mesh's index sets for each facial part are written out here as ordered loops (the
``solutions.face_mesh_connections`` sets are unordered edges), because region polygons need a
winding order. "Left" and "right" are the *subject's*: the subject's right eye is on the
image's left.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

# --- ordered landmark loops (mediapipe canonical face mesh indices) ----------------------
FACE_OVAL = [10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
             377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109]
LIPS_OUTER = [61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146]
LIPS_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95]
RIGHT_EYE = [33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7]
LEFT_EYE = [263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249]
# Upper lids, outer corner -> inner corner.
RIGHT_UPPER_LID = [33, 246, 161, 160, 159, 158, 157, 173, 133]
LEFT_UPPER_LID = [263, 466, 388, 387, 386, 385, 384, 398, 362]
# Brows: lower edge outer -> inner, then upper edge inner -> outer (a closed loop).
RIGHT_BROW_LOWER = [46, 53, 52, 65, 55]
RIGHT_BROW_UPPER = [70, 63, 105, 66, 107]
LEFT_BROW_LOWER = [276, 283, 282, 295, 285]
LEFT_BROW_UPPER = [300, 293, 334, 296, 336]
RIGHT_BROW = RIGHT_BROW_LOWER + RIGHT_BROW_UPPER[::-1]
LEFT_BROW = LEFT_BROW_LOWER + LEFT_BROW_UPPER[::-1]
RIGHT_IRIS = [468, 469, 470, 471, 472]  # centre first
LEFT_IRIS = [473, 474, 475, 476, 477]
# Nostril openings and the nose's outline (skin, but shaded and often excluded from tone).
NOSE_TIP = 4
# Cheek apples: the centre of blush. Landmarks sit on the malar fat pad below the eye.
RIGHT_CHEEK = [50, 101, 118, 117, 123, 147, 187, 205]
LEFT_CHEEK = [280, 330, 347, 346, 352, 376, 411, 425]
# Forehead band just above the brows, used as reliable skin seed (often hair-free).
FOREHEAD = [109, 10, 338, 297, 299, 9, 69, 67]
# Landmarks whose mean is the cheek centre on each side (for blush placement).
RIGHT_CHEEK_CENTRE = [50, 117, 118, 101, 205, 187]
LEFT_CHEEK_CENTRE = [280, 346, 347, 330, 425, 411]


@dataclass
class Face:
    """One detected face.

    Attributes:
        landmarks: (478, 2) float32 pixel coordinates in (x, y) order, x right, y down, in the
            frame of the image passed to :meth:`FaceMesh.detect` (468 mesh points + 10 iris).
        depth: (478,) float32 relative depth (mediapipe z, in units of image width; smaller is
            nearer the camera).
        box: (x0, y0, x1, y1) integer pixel box of the landmarks, clipped to the image.
        mirrored: found on the mirrored photo (see :meth:`FaceMesh.detect`): the coordinates
            are mapped back, but each "left" index then marks the subject's right feature
            and vice versa. Regions here always use both sides, so they are unaffected.
    """

    landmarks: np.ndarray
    depth: np.ndarray
    box: tuple[int, int, int, int]
    mirrored: bool = False

    @property
    def area(self) -> int:
        x0, y0, x1, y1 = self.box
        return max(0, x1 - x0) * max(0, y1 - y0)

    def points(self, idx: list[int]) -> np.ndarray:
        """(len(idx), 2) float32 pixel coordinates of the given landmark indices."""
        return self.landmarks[idx]

    def yaw(self) -> float:
        """Signed head turn in [-1, 1]: 0 frontal, +-1 full profile (from the nose's offset
        between the face oval's left and right edges)."""
        xl, xr = self.landmarks[234, 0], self.landmarks[454, 0]
        nose = self.landmarks[NOSE_TIP, 0]
        width = max(xr - xl, 1e-6)
        return float(np.clip(2.0 * (nose - xl) / width - 1.0, -1.0, 1.0))

    def to_dict(self) -> dict:
        return {"box": list(self.box), "yaw": round(self.yaw(), 3), "n_landmarks": int(len(self.landmarks)), "mirrored": self.mirrored}


class FaceMesh:
    """mediapipe's face mesh with iris refinement, loaded once and reused.

    Args:
        max_faces: most faces to look for.
        video: True keeps tracking between calls (frames of one video; the detector runs only
            when tracking is lost), False treats each call as an unrelated photo.
        min_confidence: detection (and tracking) confidence threshold in [0, 1].
    """

    backend = "mediapipe-face-mesh"

    def __init__(self, max_faces: int = 4, video: bool = False, min_confidence: float = 0.5):
        import mediapipe as mp

        if max_faces < 1:
            raise ValueError(f"max_faces must be >= 1, got {max_faces}")
        self.max_faces = max_faces
        self.video = video
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not video,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=min_confidence,
            min_tracking_confidence=min_confidence,
        )
        # The mediapipe graph is not re-entrant: one call at a time.
        self._lock = threading.Lock()

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Faces in ``rgb``, largest first.

        mediapipe's face detector is not mirror-symmetric: some faces turned to one side are
        found only in the mirrored photo. For photos (not video), when nothing is found the
        mirrored photo is tried as well.

        Args:
            rgb: (H, W, 3) uint8 RGB image.
        Returns:
            list of :class:`Face` (empty when no face is found).
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
        h, w = rgb.shape[:2]
        with self._lock:
            res = self._mesh.process(np.ascontiguousarray(rgb))
            mirrored = False
            if not res.multi_face_landmarks and not self.video:
                res = self._mesh.process(np.ascontiguousarray(rgb[:, ::-1]))
                mirrored = True
        faces = []
        for lm in res.multi_face_landmarks or []:
            arr = np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], dtype=np.float32)
            if mirrored:
                arr[:, 0] = w - arr[:, 0]
            xy = arr[:, :2]
            x0, y0 = np.floor(xy.min(0)).astype(int)
            x1, y1 = np.ceil(xy.max(0)).astype(int) + 1
            box = (max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1)))
            faces.append(Face(landmarks=xy.copy(), depth=arr[:, 2].copy(), box=box, mirrored=mirrored))
        faces.sort(key=lambda f: -f.area)
        return faces

    def close(self) -> None:
        self._mesh.close()


class PersonSegmenter:
    """mediapipe selfie segmentation: the probability that each pixel belongs to a person.

    Args:
        landscape: mediapipe's model 1 (144x256, faster, for video) instead of model 0 (256x256).
    """

    backend = "mediapipe-selfie-segmentation"

    def __init__(self, landscape: bool = False):
        import mediapipe as mp

        self._seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1 if landscape else 0)
        self._lock = threading.Lock()

    def person_probability(self, rgb: np.ndarray) -> np.ndarray:
        """(H, W) float32 in [0, 1]: probability of person at each pixel of ``rgb`` (uint8 RGB)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB array, got {rgb.shape} {rgb.dtype}")
        with self._lock:
            res = self._seg.process(np.ascontiguousarray(rgb))
        return np.asarray(res.segmentation_mask, dtype=np.float32)

    def close(self) -> None:
        self._seg.close()
