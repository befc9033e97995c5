"""FieldFlow ingest package (see DESIGN.md §2)."""
