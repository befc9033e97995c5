"""FieldFlow streams package (see DESIGN.md §2)."""
