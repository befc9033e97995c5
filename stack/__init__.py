"""FieldFlow stack package (see DESIGN.md §2)."""
