"""FieldFlow api package (see DESIGN.md §2)."""
