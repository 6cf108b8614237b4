"""``restyle catalog import | search | stats | demo`` (registered by app.cli)."""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    """Add ``restyle catalog ...`` to ``restyle``."""
    c = subparsers.add_parser("catalog", help="import, search and inspect the product catalogue")
    sub = c.add_subparsers(dest="catalog_command", required=True)

    i = sub.add_parser("import", help="import products from a CSV, JSON or Parquet file")
    i.add_argument("file", help="catalogue file (.csv, .json, .jsonl, .parquet)")
    i.add_argument("--images", help="folder that image paths are relative to (default: the file's folder)")
    i.add_argument("--map", nargs="*", default=[], metavar="SRC=FIELD",
                   help="column mapping, e.g. --map sku=id name=title cost=price")
    i.add_argument("--preset", help="known catalogue layout: ikea, makeup_api, ovilia, pudding, none "
                                    "(default: detected from the columns)")
    i.add_argument("--kind", choices=["furniture", "makeup"], help="what the file holds (default: from the preset)")
    i.add_argument("--currency", help="currency of prices that have none (e.g. EUR)")
    i.add_argument("--no-embed", action="store_true", help="skip embeddings (search will not find these yet)")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    i.add_argument("--max-rows", type=int, default=30, help="rejected rows listed in the report")
    i.set_defaults(func=_cmd_import)

    s = sub.add_parser("search", help="search by text, image or product id")
    q = s.add_mutually_exclusive_group(required=True)
    q.add_argument("--text")
    q.add_argument("--image", help="photo or crop of a room photo")
    q.add_argument("--id", help="more like this product")
    s.add_argument("-k", type=int, default=10)
    s.add_argument("--category")
    s.add_argument("--makeup-type", choices=["lipstick", "eyeshadow", "blush", "foundation"])
    s.add_argument("--brand")
    s.add_argument("--price-min", type=float)
    s.add_argument("--price-max", type=float)
    s.add_argument("--color", help="hex colour, e.g. '#335577'")
    s.add_argument("--max-color-distance", type=float, help="Delta E around --color (default 25)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=_cmd_search)

    t = sub.add_parser("stats", help="counts by category, makeup type and embedding model")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=_cmd_stats)

    d = sub.add_parser("demo", help="import the bundled demo catalogue (idempotent)")
    d.set_defaults(func=_cmd_demo)


def _cmd_import(args, settings) -> int:
    from catalog.importer import CatalogImporter, parse_mapping

    try:
        mapping = parse_mapping(args.map)
    except ValueError as e:
        print(f"restyle catalog import: {e}", file=sys.stderr)
        return 2
    _threads()
    importer = CatalogImporter.from_settings(settings, embed=not args.no_embed)
    defaults = {"currency": args.currency} if args.currency else None

    def progress(done, total):
        if not args.json and sys.stderr.isatty():
            print(f"\r  {done}/{total} rows", end="", file=sys.stderr, flush=True)

    try:
        report = importer.import_file(args.file, images_dir=args.images, mapping=mapping, preset=args.preset,
                                      kind=args.kind, defaults=defaults, progress=progress)
    except ValueError as e:
        print(f"restyle catalog import: {e}", file=sys.stderr)
        return 2
    if sys.stderr.isatty() and not args.json:
        print(file=sys.stderr)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary(args.max_rows))
    return 0 if report.accepted or not report.rows else 1


def _cmd_search(args, settings) -> int:
    from catalog.search import CatalogSearch, Filters
    from catalog.store import Catalog

    _threads()
    filters = Filters(category=args.category, price_min=args.price_min, price_max=args.price_max,
                      color_hex=args.color, max_color_distance=args.max_color_distance,
                      makeup_type=args.makeup_type, brand=args.brand)
    catalog = Catalog.open(settings)
    if len(catalog) == 0:
        print("restyle catalog search: the catalogue is empty; run `restyle catalog demo` or `restyle catalog import FILE`",
              file=sys.stderr)
        return 2
    search = CatalogSearch.from_settings(settings, catalog)
    try:
        if args.text:
            hits = search.by_text(args.text, args.k, filters)
        elif args.image:
            from pipelines.intake import ImageRejected, load_image

            try:
                img = load_image(args.image, max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
            except ImageRejected as e:
                print(f"restyle catalog search: {args.image}: {e}", file=sys.stderr)
                return 2
            hits = search.by_image(img, args.k, filters)
        else:
            hits = search.by_product(args.id, args.k, filters)
    except (ValueError, KeyError, LookupError) as e:
        print(f"restyle catalog search: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], indent=2))
        return 0
    if not hits:
        print("no product matches these filters")
    for rank, h in enumerate(hits, 1):
        p = h.product
        price = f"{p.price:.2f} {p.currency or ''}".strip() if p.price is not None else "no price"
        extra = p.shade_hex or p.color_hex or ""
        print(f"{rank:3d}. {h.score:.3f}  {p.id:<24} {p.category:<9} {p.title[:48]:<48} {price:>12}  {extra}"
              + ("  [cut-out flagged]" if p.cutout_flagged else ""))
    return 0


def _cmd_stats(args, settings) -> int:
    from catalog.store import Catalog

    stats = Catalog.open(settings).stats()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"catalogue at {stats['path']}: {stats['products']} products ({stats['with_price']} with a price, "
          f"{stats['cutouts_flagged']} cut-outs flagged)")
    for cat, n in stats["categories"].items():
        print(f"  {cat:<12} {n}")
    if stats["makeup_types"]:
        print("makeup: " + ", ".join(f"{k} {v}" for k, v in stats["makeup_types"].items()))
    for model, n in stats["embeddings"].items():
        print(f"vectors {model}: {n}")
    return 0


def _cmd_demo(args, settings) -> int:
    from catalog.demo import ensure_demo_catalog

    _threads()
    cat = ensure_demo_catalog(settings)
    print(f"demo catalogue ready: {len(cat)} products in {cat.root}")
    return 0


def _threads() -> None:
    # The machine is shared; two intra-op threads is what the import and search are tuned for.
    import torch

    torch.set_num_threads(min(2, torch.get_num_threads()))
