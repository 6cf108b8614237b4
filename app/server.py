"""Launch the Gradio app with explicit limits: upload size, queue, concurrency, CORS, auth."""

from __future__ import annotations

from app.settings import Settings, apply_offline_defaults


def launch(settings: Settings, *, demo: bool = False, prevent_thread_lock: bool = False, **launch_kwargs):
    """Build and launch the app; returns the Blocks (its ``.local_url`` is set)."""
    apply_offline_defaults(settings)
    from app.ui import build_app

    blocks = build_app(settings, demo=demo)
    blocks.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency_per_model)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    blocks.launch(
        server_name=settings.host,
        server_port=settings.port or None,
        share=settings.share,
        auth=auth,
        max_file_size=settings.max_upload_bytes,
        allowed_paths=[str(settings.shares_dir)],
        prevent_thread_lock=prevent_thread_lock,
        show_error=False,
        **launch_kwargs,
    )
    return blocks


def serve(settings: Settings, *, demo: bool = False) -> None:
    launch(settings, demo=demo)
