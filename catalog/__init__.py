"""The product catalogue: validated products (products), SQLite storage (store), import from
CSV/JSON/Parquet with per-row reports (importer), cut-outs (cutout), image and text embeddings
(embeddings, efficientnet), FAISS indexes (index), search with filters (search), shop-the-look
scoring for room photos (shop) and the drawn demo catalogue (demo)."""
