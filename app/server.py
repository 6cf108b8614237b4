"""Launch the Gradio app with every limit from the settings applied (see :mod:`app.security`):
upload and request size, bounded queue, per-model concurrency, strict CORS, file-route guard,
blocked paths, and authentication (required by ``Settings`` beyond loopback)."""

from __future__ import annotations

from app.security import harden, launch_kwargs
from app.settings import Settings, apply_offline_defaults


def launch(settings: Settings, *, demo: bool = False, prevent_thread_lock: bool = False, **launch_overrides):
    """Build and launch the app; returns the Blocks (its ``.local_url`` is set).

    ``launch_overrides`` go to ``Blocks.launch`` after the hardened defaults (tests pass e.g.
    ``quiet=True``).
    """
    apply_offline_defaults(settings)
    import warnings

    # Raised by gradio's own routes on every request; nothing restyle can change.
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")
    from app.ui import build_app

    blocks = harden(build_app(settings, demo=demo), settings)
    blocks.launch(prevent_thread_lock=prevent_thread_lock, **launch_kwargs(settings, **launch_overrides))
    return blocks


def serve(settings: Settings, *, demo: bool = False) -> None:
    launch(settings, demo=demo)
