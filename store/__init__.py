"""FieldFlow store package (see DESIGN.md §2)."""
