"""One typed settings object for the whole app.

Read from ``RESTYLE_*`` environment variables and, optionally, a TOML file named by
``RESTYLE_CONFIG`` (or passed to :func:`load_settings`). Environment variables win over the file.
An unknown ``RESTYLE_*`` variable, an unknown TOML key or an invalid value fails at start with a
:class:`SettingsError` whose message names the setting.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "RESTYLE_"
# Not settings themselves: the variable that names the TOML file.
# Read by the tooling, not the app: the TOML file, and where the tests/benches find ../shared/data.
_META_VARS = {"RESTYLE_CONFIG", "RESTYLE_SHARED_DATA"}


class SettingsError(ValueError):
    """A setting is unknown or invalid. The message names it."""


def _default_data_dir() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "restyle"


class Settings(BaseSettings):
    """Every knob of restyle. Field names map to ``RESTYLE_<NAME>`` (upper case)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, case_sensitive=False
    )

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Field(default_factory=_default_data_dir, description="Catalogue, index, shares, previews.")

    # --- compute -----------------------------------------------------------------------
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    dtype: Literal["auto", "float32", "float16", "bfloat16"] = "auto"

    # --- network: everything is offline unless the user opts in ------------------------
    allow_hub_downloads: bool = Field(False, description="Let model ids resolve on the Hugging Face Hub.")
    allow_network: bool = Field(False, description="Let catalogue import fetch image URLs.")

    # --- model locations (local paths; hub ids only with allow_hub_downloads) ----------
    sd_model: str | None = Field(None, description="Stable Diffusion 1.5 inpainting model folder.")
    sdxl_model: str | None = Field(None, description="SDXL inpainting model folder.")
    controlnet_model: str | None = Field(None, description="ControlNet (canny) for the SD 1.5 family.")
    controlnet_sdxl_model: str | None = Field(None, description="ControlNet (canny) for the SDXL family.")
    ip_adapter: str | None = Field(None, description="IP-Adapter folder (with image_encoder/).")
    ip_adapter_weight_name: str = "ip-adapter_sd15.safetensors"
    sam_checkpoint: Path | None = Field(None, description="segment-anything checkpoint file.")
    sam_model_type: Literal["vit_b", "vit_l", "vit_h"] = "vit_b"
    clip_model: str | None = Field(None, description="CLIP model folder (joint image/text embeddings).")
    annotators_dir: str | None = Field(None, description="controlnet-aux annotator weights (depth, MLSD).")
    controlnet_condition: Literal["canny", "mlsd", "depth"] = Field(
        "canny", description="What the configured ControlNets were trained on (mlsd/depth need annotators_dir)."
    )
    checkpoint_sha256: dict[str, str] = Field(
        default_factory=dict, description="Optional pins: {path: sha256} checked before loading."
    )

    # --- limits ------------------------------------------------------------------------
    max_upload_bytes: int = Field(25 * 1024 * 1024, gt=0)
    # Below Pillow's own MAX_IMAGE_PIXELS (89.5 MP): bombs are refused before decoding.
    max_image_pixels: int = Field(50_000_000, gt=0)
    work_max_side: int = Field(1024, ge=256, le=4096, description="Photos are resized to this long side.")
    num_combinations: int = Field(20, ge=1, le=100)
    upload_retention_s: int = Field(
        86_400, ge=1, description="Uploaded photos and results in Gradio's cache are deleted after this many seconds "
        "(share links keep their own copies)."
    )
    queue_size: int = Field(10, ge=1)
    concurrency_per_model: int = Field(1, ge=1)

    # --- server ------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(7860, ge=0, le=65535)
    auth: str | None = Field(None, description="'user:password' (required to bind beyond loopback).")
    allowed_origins: list[str] = Field(default_factory=list, description="Extra CORS origins.")
    share: bool = Field(False, description="Gradio's public share link (needs internet).")

    @field_validator("auth")
    @classmethod
    def _auth_has_colon(cls, v: str | None) -> str | None:
        if v is not None and (":" not in v or v.startswith(":") or v.endswith(":")):
            raise ValueError("must look like 'user:password'")
        return v

    @model_validator(mode="after")
    def _non_loopback_needs_auth(self) -> "Settings":
        if self.host not in ("127.0.0.1", "localhost", "::1") and not self.auth:
            raise ValueError(
                f"host={self.host!r} serves beyond this machine: set RESTYLE_AUTH='user:password' first"
            )
        if self.share and not self.auth:  # a public gradio.live link is beyond this machine too
            raise ValueError("share=True makes a public link: set RESTYLE_AUTH='user:password' first")
        return self

    # --- derived paths -----------------------------------------------------------------
    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"

    @property
    def shares_dir(self) -> Path:
        return self.data_dir / "shares"

    @property
    def previews_dir(self) -> Path:
        return self.data_dir / "previews"

    def resolved_device(self) -> str:
        if self.device != "auto":
            return self.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def resolved_dtype(self):
        import torch

        if self.dtype != "auto":
            return getattr(torch, self.dtype)
        return torch.float16 if self.resolved_device() == "cuda" else torch.float32


def _check_unknown_env(environ: dict[str, str]) -> None:
    known = {ENV_PREFIX + name.upper() for name in Settings.model_fields} | _META_VARS
    unknown = sorted(k for k in environ if k.upper().startswith(ENV_PREFIX) and k.upper() not in known)
    if unknown:
        raise SettingsError(
            f"unknown setting {unknown[0]} (known: {', '.join(sorted(known - _META_VARS))})"
        )


def _format_error(err: ValidationError, source: str) -> str:
    parts = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "settings"
        name = ENV_PREFIX + loc.upper() if loc != "settings" else "settings"
        if e["type"] == "extra_forbidden":
            parts.append(f"unknown setting {loc!r} in {source}")
        else:
            parts.append(f"{name}: {e['msg']} (got {e.get('input')!r})")
    return "; ".join(parts)


def load_settings(config_file: str | os.PathLike | None = None, **overrides: Any) -> Settings:
    """Build the settings from TOML file < environment < ``overrides``.

    Raises:
        SettingsError: unknown or invalid setting, or an unreadable config file.
    """
    _check_unknown_env(dict(os.environ))
    config_file = config_file or os.environ.get("RESTYLE_CONFIG")
    file_values: dict[str, Any] = {}
    source = "the environment"
    if config_file:
        path = Path(config_file)
        try:
            file_values = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise SettingsError(f"RESTYLE_CONFIG: no such file {path}") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"RESTYLE_CONFIG: {path} is not valid TOML: {e}") from None
        file_values = file_values.get("restyle", file_values)
        source = str(path)
        unknown = sorted(set(file_values) - set(Settings.model_fields))
        if unknown:
            raise SettingsError(f"unknown setting {unknown[0]!r} in {path}")
    # Environment beats the file: drop file keys that the environment sets.
    env_keys = {k.upper() for k in os.environ}
    merged = {k: v for k, v in file_values.items() if ENV_PREFIX + k.upper() not in env_keys}
    merged.update(overrides)
    try:
        return Settings(**merged)
    except ValidationError as e:
        raise SettingsError(_format_error(e, source)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once. Tests build their own with :func:`load_settings`."""
    return load_settings()


def apply_offline_defaults(settings: Settings | None = None) -> None:
    """Set the environment so no library phones home, unless the user opted in."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # A server console, not a notebook: no per-model "Loading weights" progress bars.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if settings is None or not settings.allow_hub_downloads:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
