"""FieldFlow simulators package (see DESIGN.md §2)."""
