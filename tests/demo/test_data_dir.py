"""The demo's data folder: re-created on every run, never someone else's folder."""

from __future__ import annotations

import pytest

from lastmile.demo.run import fresh_data_dir


def test_a_previous_demo_is_replaced(tmp_path):
    d = tmp_path / "demo"
    fresh_data_dir(d)
    (d / "lastmile.db").write_text("yesterday's day")
    fresh_data_dir(d)
    assert sorted(p.name for p in d.iterdir()) == [".lastmile-demo"]


def test_the_plan_files_of_the_old_demo_command_are_replaced(tmp_path):
    d = tmp_path / "demo"
    d.mkdir()
    for name in ("plan.json", "plan.geojson", "plan.csv"):
        (d / name).write_text("{}")
    fresh_data_dir(d)
    assert sorted(p.name for p in d.iterdir()) == [".lastmile-demo"]


def test_a_folder_the_demo_did_not_make_is_left_alone(tmp_path):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "lastmile.db").write_text("real data")
    with pytest.raises(SystemExit, match="not a demo data folder"):
        fresh_data_dir(d)
    assert (d / "lastmile.db").read_text() == "real data"
