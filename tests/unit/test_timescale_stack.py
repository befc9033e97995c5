"""When `fieldflow up` preloads TimescaleDB (stack/timescale.py)."""

from pathlib import Path

import pytest

from stack import timescale
from stack.procs import MissingDependency
from stack.settings import Settings


def test_off_never_preloads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timescale, "installed_version", lambda: "2.30.0")
    assert timescale.postgres_args(Settings(timescaledb="off")) == []


def test_auto_preloads_only_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timescale, "installed_version", lambda: None)
    assert timescale.postgres_args(Settings(timescaledb="auto")) == []
    monkeypatch.setattr(timescale, "installed_version", lambda: "2.30.0")
    args = timescale.postgres_args(Settings(timescaledb="auto"))
    assert "shared_preload_libraries=timescaledb" in args


def test_on_without_the_library_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(timescale, "installed_version", lambda: None)
    with pytest.raises(MissingDependency, match="make timescale"):
        timescale.postgres_args(Settings(timescaledb="on"))


def test_installed_version_reads_the_embedded_postgres(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    lib, ext = tmp_path / "lib", tmp_path / "extension"
    lib.mkdir()
    ext.mkdir()
    monkeypatch.setattr(timescale, "_pg_dirs", lambda: (lib, ext))
    assert timescale.installed_version() is None
    (lib / "timescaledb.so").write_bytes(b"")
    (ext / "timescaledb.control").write_text("comment = 'x'\ndefault_version = '2.30.0-dev'\n")
    assert timescale.installed_version() == "2.30.0-dev"


def test_the_vendored_source_and_licences_are_there() -> None:
    for name in ("timescaledb-src.tar.gz", "build.sh", "README.md", "LICENSE",
                 "LICENSE-APACHE", "LICENSE-TIMESCALE"):
        assert (timescale.VENDOR_DIR / name).is_file(), name
