"""FieldFlow dispatch package (see DESIGN.md §2)."""
