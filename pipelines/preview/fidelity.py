"""Fidelity flags: turn a render's figures (and the product's cut-out quality) into short, plain
warnings the catalogue team can act on.

Pipelines report figures under their own names (the room pipeline: SSIM outside the edit and the
rendered product's similarity to its catalogue photo; the try-on pipeline: CIEDE2000 of the shade
and the texture kept). A :class:`FidelityRule` names a figure, a direction and a threshold; rules
whose figure a render does not report are ignored, so one rule set serves both pipelines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Literal


@dataclass(frozen=True)
class FidelityRule:
    """Flag a render when ``fidelity[key]`` is ``below`` / ``above`` ``threshold``."""

    key: str
    direction: Literal["below", "above"]
    threshold: float
    message: str  # e.g. "product looks unlike its photo"

    def check(self, fidelity: dict[str, Any]) -> str | None:
        value = fidelity.get(self.key)
        if isinstance(value, (list, tuple)):  # one figure per product placed: judge the worst
            nums = [v for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if not nums:
                return None
            value = min(nums) if self.direction == "below" else max(nums)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        bad = value < self.threshold if self.direction == "below" else value > self.threshold
        if not bad:
            return None
        sign = "<" if self.direction == "below" else ">"
        return f"{self.message} ({self.key} {value:.3g} {sign} {self.threshold:g})"


# Thresholds chosen from what a person sees: below 0.5 cosine similarity the rendered product no
# longer reads as the catalogue item; SSIM under 0.9 outside the edit means the room changed;
# a CIEDE2000 above 5 is a clearly different shade; texture correlation under 0.3 looks painted.
DEFAULT_RULES: tuple[FidelityRule, ...] = (
    FidelityRule("product_similarity", "below", 0.5, "product looks unlike its catalogue photo"),
    FidelityRule("ssim_outside", "below", 0.9, "photo changed outside the edited region"),
    FidelityRule("delta_e", "above", 5.0, "rendered shade differs from the product's colour"),
    FidelityRule("delta_e2000", "above", 5.0, "rendered shade differs from the product's colour"),
    FidelityRule("texture_corr", "below", 0.3, "skin/lip texture lost (looks painted on)"),
    FidelityRule("texture_correlation", "below", 0.3, "skin/lip texture lost (looks painted on)"),
)

# Below this cut-out confidence a product's photo needs fixing even when the importer did not flag it.
CUTOUT_MIN_CONFIDENCE = 0.5


def render_flags(fidelity: dict[str, Any], rules: Iterable[FidelityRule] = DEFAULT_RULES) -> list[str]:
    """Warnings for one render. Also honours a pipeline's own boolean ``*_flag``/``low_*`` figures
    and a ``flags`` list it may report."""
    out: list[str] = []
    for rule in rules:
        msg = rule.check(fidelity)
        if msg and msg not in out:
            out.append(msg)
    for key, value in sorted(fidelity.items()):
        if value is True and (key.endswith("_flag") or key.endswith("_flagged") or key.startswith("low_")):
            out.append(f"pipeline flagged {key.replace('_', ' ')}")
    extra = fidelity.get("flags")
    if isinstance(extra, (list, tuple)):
        out.extend(str(f) for f in extra if str(f) not in out)
    return out


def cutout_problem(product) -> str | None:
    """Why the product's cut-out is poor, or None. Makeup shades have no cut-out to judge."""
    if getattr(product, "makeup_type", None):
        return None
    conf = getattr(product, "cutout_confidence", None)
    if getattr(product, "cutout_flagged", False):
        return f"cut-out flagged by the importer (confidence {conf:.2f})" if isinstance(conf, (int, float)) else "cut-out flagged by the importer"
    if not getattr(product, "cutout_path", None):
        return "no cut-out"
    if isinstance(conf, (int, float)) and conf < CUTOUT_MIN_CONFIDENCE:
        return f"cut-out confidence {conf:.2f} < {CUTOUT_MIN_CONFIDENCE}"
    return None
