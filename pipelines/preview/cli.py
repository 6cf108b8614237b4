"""``restyle preview``: render catalogue products into template scenes, resumably, in-process or on
Ray, and write the manifest, the coverage report and the contact sheet.

Examples::

    restyle preview --demo --all                       # demo catalogue x demo rooms and faces
    restyle preview --category sofa --rooms my/rooms/ --out runs/sofas
    restyle preview --catalog-file new_products.jsonl --ray            # local 2-worker Ray
    restyle preview --ids sofa-1,lip-3 --ray ray://head:10001 --workers 8
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from pathlib import Path


def register(subparsers) -> None:
    """Add this package's subcommands to ``restyle``."""
    p = subparsers.add_parser(
        "preview",
        help="render products into template rooms/faces (manifest, coverage report, contact sheet)",
        description="Render each product into each template scene where it fits. Rerunning the same "
        "command resumes: finished units are skipped, failed ones retried.",
    )
    src = p.add_argument_group("products (at least one)")
    src.add_argument("--ids", help="comma-separated catalogue product ids")
    src.add_argument("--search", help="text search over the catalogue (with -k and --category)")
    src.add_argument("-k", type=int, default=20, help="how many search hits (default 20)")
    src.add_argument("--category", help="a catalogue category (alone: every product of it)")
    src.add_argument("--catalog-file", help="JSON / JSON Lines / CSV of new products (Product fields)")
    src.add_argument("--all", action="store_true", help="every product in the catalogue")
    src.add_argument("--demo", action="store_true", help="make sure the demo catalogue is imported first")
    sc = p.add_argument_group("scenes (default: the demo rooms and faces in assets/)")
    sc.add_argument("--rooms", action="append", default=[], help="folder of template room photos (repeatable)")
    sc.add_argument("--faces", action="append", default=[], help="folder of template face photos (repeatable)")
    sc.add_argument("--limit-scenes", type=int, help="use only the first N photos of each folder")
    run = p.add_argument_group("run")
    run.add_argument("--out", help="run folder (default: <data dir>/previews/<hash of the inputs>)")
    run.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                     help="run on Ray: a local Ray with --workers CPUs, or the cluster at ADDRESS")
    run.add_argument("--workers", type=int, default=2, help="Ray workers (actors), one model set each (default 2)")
    run.add_argument("--batch-size", type=int, default=4, help="units per Ray task (default 4)")
    run.add_argument("--gpus-per-worker", type=float, help="default: share the cluster's GPUs, at most 1 each")
    run.add_argument("--retries", type=int, default=1, help="extra attempts for a unit that fails (default 1)")
    run.add_argument("--seed", type=int, default=0, help="base seed (each unit derives its own)")
    run.add_argument("--renderer", help="MODULE:CALLABLE taking settings, returning a RendererSet (custom renderers)")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--quiet", action="store_true", help="no per-unit progress lines")
    p.set_defaults(func=_cmd_preview)


def _load_products(args, settings) -> list:
    products: list = []
    if args.catalog_file:
        from pipelines.preview.sources import read_product_file

        file_products, problems = read_product_file(args.catalog_file)
        for msg in problems:
            print(f"restyle preview: skipped {args.catalog_file} {msg}", file=sys.stderr)
        products += file_products
    wants_catalog = args.ids or args.search or args.category or args.all or args.demo
    if wants_catalog:
        if args.demo:
            from catalog.demo import ensure_demo_catalog

            catalog = ensure_demo_catalog(settings)
        else:
            from catalog.store import Catalog

            catalog = Catalog.open(settings)
        chosen: list = []
        if args.all:
            chosen = list(catalog.list())
        else:
            from pipelines.preview.sources import select_products

            engine = None
            if args.search:
                from catalog.search import CatalogSearch

                engine = CatalogSearch.from_settings(settings, catalog)
            ids = [i.strip() for i in (args.ids or "").split(",") if i.strip()]
            chosen = select_products(catalog, ids=ids, search=args.search, k=args.k, category=args.category, search_engine=engine)
        products += absolute_paths(chosen, catalog)
    seen, unique = set(), []
    for p in products:
        if p.id not in seen:
            seen.add(p.id)
            unique.append(p)
    return unique


def absolute_paths(products: list, catalog) -> list:
    """Catalogue products store file paths relative to the catalogue folder: make them absolute
    so renderers (also on Ray workers) and reports can open them without the catalogue."""
    out = []
    for p in products:
        upd = {}
        for key in ("image_path", "cutout_path"):
            v = getattr(p, key, None)
            if v and not Path(v).is_absolute():
                upd[key] = str(catalog.path(v))
        out.append(p.model_copy(update=upd) if upd else p)
    return out


def _load_scenes(args) -> list:
    from pipelines.preview.sources import default_scenes, discover_scenes

    scenes = []
    for folder in args.rooms:
        scenes += discover_scenes(folder, "room", args.limit_scenes)
    for folder in args.faces:
        scenes += discover_scenes(folder, "face", args.limit_scenes)
    if not args.rooms and not args.faces:
        scenes = default_scenes()
        if args.limit_scenes:
            rooms = [s for s in scenes if s.kind == "room"][: args.limit_scenes]
            faces = [s for s in scenes if s.kind == "face"][: args.limit_scenes]
            scenes = rooms + faces
    return scenes


def default_run_dir(settings, products, scenes, seed: int) -> Path:
    """Same inputs, same folder: rerunning a command resumes it."""
    h = hashlib.sha256(
        json.dumps([sorted(p.id for p in products), sorted(str(s.path) for s in scenes), seed]).encode()
    ).hexdigest()[:12]
    return settings.previews_dir / f"run-{h}"


def renderer_factory_from_arg(spec: str | None, settings):
    """The default renderers, or ``MODULE:CALLABLE`` (called with settings in each worker)."""
    from pipelines.preview.renderers import DefaultRendererFactory, CustomRendererFactory

    if not spec:
        return DefaultRendererFactory(settings)
    if ":" not in spec:
        raise ValueError(f"--renderer must look like MODULE:CALLABLE, got {spec!r}")
    module, name = spec.split(":", 1)
    try:
        getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"--renderer {spec}: {e}") from None
    return CustomRendererFactory(module, name, settings)


def _cmd_preview(args, settings) -> int:
    from pipelines.preview.engine import PreviewRunner, RunLocked

    try:
        products = _load_products(args, settings)
        if not products:
            print("restyle preview: no products chosen: use --ids, --search, --category, --catalog-file or --all", file=sys.stderr)
            return 2
        scenes = _load_scenes(args)
        if not scenes:
            print("restyle preview: no template scenes: give --rooms DIR and/or --faces DIR", file=sys.stderr)
            return 2
        factory = renderer_factory_from_arg(args.renderer, settings)
    except ValueError as e:
        print(f"restyle preview: {e}", file=sys.stderr)
        return 2
    run_dir = Path(args.out) if args.out else default_run_dir(settings, products, scenes, args.seed)
    if any(getattr(p, "image_path", None) and not getattr(p, "cutout_path", None) for p in products):
        from pipelines.preview.sources import ensure_cutouts

        products, problems = ensure_cutouts(products, run_dir / "cutouts", max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
        for msg in problems:
            print(f"restyle preview: {msg}", file=sys.stderr)

    def progress(done: int, total: int, rec: dict) -> None:
        if args.quiet:
            return
        t = rec["timings"].get("render_s", 0.0)
        note = rec["reason"] or ("; ".join(rec["flags"]) if rec["flags"] else "")
        print(f"[{done:>{len(str(total))}}/{total}] {rec['status']:<7} {rec['product_id']} @ {rec['scene_id']}  {t:.2f}s  {note}", flush=True)

    kinds = sorted({s.kind for s in scenes})
    print(f"restyle preview: {len(products)} products x {len(scenes)} scenes ({', '.join(kinds)}) -> {run_dir}", flush=True)
    runner = PreviewRunner(run_dir, factory, retries=args.retries, progress=progress)
    try:
        summary = runner.run(
            products,
            scenes,
            base_seed=args.seed,
            executor="ray" if args.ray else "local",
            ray_address=None if args.ray in (None, "local") else args.ray,
            num_workers=args.workers,
            batch_size=args.batch_size,
            num_gpus_per_worker=args.gpus_per_worker,
            options={"ray": args.ray, "workers": args.workers, "retries": args.retries},
        )
    except (ValueError, RunLocked) as e:
        print(f"restyle preview: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2))
    else:
        print(
            f"done: {summary.ok} previews, {summary.skipped} don't fit, {summary.failed} failed "
            f"({summary.already_done} of {summary.total} units were already done); "
            f"{summary.elapsed_s:.1f}s, {summary.units_per_s:.2f} units/s ({summary.executor})"
        )
        print(f"contact sheet: {summary.contact_sheet}")
        if summary.coverage:
            cov = json.loads(Path(summary.coverage).read_text())
            print(f"coverage report: {summary.coverage} ({cov['needs_attention']} of {cov['products']} products need attention, "
                  f"{cov['low_fidelity_renders']} low-fidelity renders)")
    return 1 if summary.failed else 0
