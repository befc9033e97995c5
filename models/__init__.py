"""Shared domain: message schemas, enums, the work-order state machine, geo helpers.

This package imports no other project package (DESIGN.md §2).
"""
