"""FieldFlow dispatch package (see DESIGN.md §2): pure, no I/O; imports only ``models``.

- ``types``: inputs/outputs (times are seconds since the planning day's midnight);
- ``assign``: rank engineers for one new order (cheap insertion, OR-Tools for top-k);
- ``plan``: batch VRPTW for a day/shift (skills, windows, lunch, priorities, frozen);
- ``replan``: re-plan after an event and report a ``PlanDiff``;
- ``core``: the one OR-Tools routing model shared by all of the above and ``solomon``;
- ``solomon``: Solomon benchmark parser, solver and validator (DIMACS arithmetic);
- ``check``: independent verification of a plan's hard constraints;
- ``routecost``/``synthetic``: insertion helpers and a seeded synthetic city.
"""
