"""FieldFlow bench package (see DESIGN.md §2)."""
