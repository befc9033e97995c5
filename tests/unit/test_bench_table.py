"""README's "Measured here" table is rendered from docs/results/ (bench/table.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import table


def test_the_readme_table_is_what_the_json_files_say() -> None:
    rows = table.load_rows()
    want = table.splice(table.README.read_text(), table.render(rows, table.read_results(rows)))
    assert want == table.README.read_text(), "run `fieldflow bench table`"


def test_rows_fill_their_templates_and_say_when_unmeasured(tmp_path: Path) -> None:
    row = table.Row(name="x", what="w", command="fieldflow bench e2e --rate 5",
                    figure="{msgs_per_s:,.0f} msgs/s, p99 {stages[stored][p99_ms]} ms")
    result = {"msgs_per_s": 19876.4, "stages": {"stored": {"p99_ms": 812}},
              table.STAMP: {"date": "2026-12-04", "loadavg_before": 0.42,
                            "loadavg_after": 1.9, "cpus": 2}}
    text = table.render([row], {"x": result})
    assert "| w | 19,876 msgs/s, p99 812 ms (2026-12-04, load average 0.4) |" in text
    assert "`fieldflow bench e2e --rate 5`" in text
    assert "not measured yet (`fieldflow bench table --run x`)" in table.render([row], {"x": None})
    with pytest.raises(ValueError, match="does not fit"):
        table.render([row], {"x": {"msgs_per_s": 1}})


def test_splice_replaces_only_between_the_markers() -> None:
    readme = f"head\n{table.START}\nold\n{table.END}\ntail\n"
    assert table.splice(readme, "new") == f"head\n{table.START}\nnew\n{table.END}\ntail\n"
    with pytest.raises(ValueError, match="markers"):
        table.splice("no markers", "new")


def test_duplicate_row_names_are_refused(tmp_path: Path) -> None:
    manifest = tmp_path / "t.toml"
    row = '[[row]]\nname = "a"\nwhat = "w"\ncommand = "fieldflow x"\nfigure = "f"\n'
    manifest.write_text(row + row)
    with pytest.raises(ValueError, match="unique"):
        table.load_rows(manifest)


def test_a_row_shows_the_environment_its_command_needs() -> None:
    row = table.Row(name="x", what="w", command="fieldflow simulate --seed 7", figure="f",
                    env={"FIELDFLOW_REFRESH_S": "1"}, fresh_home=True)
    assert row.shown == ("FIELDFLOW_HOME=$(mktemp -d) FIELDFLOW_REFRESH_S=1 "
                         "fieldflow simulate --seed 7")
