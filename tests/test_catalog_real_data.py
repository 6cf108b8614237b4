"""Real catalogues from ../shared/data (slow; skipped when the data is absent)."""

import pytest

from catalog.importer import CatalogImporter
from catalog.store import Catalog

pytestmark = pytest.mark.slow


def test_makeup_catalogues_report_malformed_hex(settings, shared_data):
    imp = CatalogImporter(Catalog.open(settings), None, None)
    rep = imp.import_file(shared_data / "shades/makeup_api_dump/shades_flat.csv")
    assert rep.preset == "makeup_api" and rep.rows == 5329
    malformed = [r for r in rep.rejected if "malformed hex" in r.reason]
    assert len(malformed) == 54  # the README's count of rows with hex_valid == False
    assert len(rep.inserted) > 3500
    rep = imp.import_file(shared_data / "shades/lipstick_ovilia/lipstick.csv")
    assert rep.preset == "ovilia" and len(rep.inserted) + len(rep.rejected) == 287
    rep = imp.import_file(shared_data / "shades/foundation_pudding/allShades.csv")
    assert rep.preset == "pudding" and len(rep.inserted) > 6500


def test_ikea_catalogue_imports(settings, shared_data):
    from catalog.embeddings import ImageEmbedder

    imp = CatalogImporter(Catalog.open(settings), ImageEmbedder(), None)
    rep = imp.import_file(shared_data / "ikea/catalogue.csv")
    assert rep.preset == "ikea" and len(rep.inserted) == 685 and not rep.rejected
    assert set(imp.catalog.stats()["categories"]) >= {"sofa", "rug", "lamp", "mirror", "cushion"}
