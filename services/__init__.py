"""FieldFlow services package (see DESIGN.md §2)."""
