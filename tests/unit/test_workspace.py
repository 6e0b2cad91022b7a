"""Notebooks find the project from notebooks/ (JupyterLab's working folder) and write to scratch by hand."""

import os
from pathlib import Path

import pytest

from a1lab.workspace import Outputs, enter, project_root

ROOT = Path(__file__).resolve().parents[2]


def test_the_project_is_found_from_the_notebooks_folder_and_anywhere_below():
    assert project_root(ROOT / "notebooks") == ROOT == project_root(ROOT / "a1lab" / "models")
    with pytest.raises(FileNotFoundError, match="open the notebook from the repo's notebooks/ folder"):
        project_root("/")


def test_outside_the_pipeline_outputs_go_to_scratch(capsys):
    assert Outputs("train", pipeline=True).path("metrics") == "metrics"
    assert Outputs("train", pipeline=False).path("metrics") == os.path.join("scratch", "train", "metrics")
    here = Path.cwd()
    try:
        os.chdir(ROOT / "notebooks")
        out = enter("ensemble", pipeline=False)
        assert Path.cwd() == ROOT and out.path("data/ensemble.parquet") == "scratch/ensemble/data/ensemble.parquet"
        assert (ROOT / "scratch" / "ensemble" / "data").is_dir()  # ready to write into
        assert (ROOT / out.path("reports/drift")).is_dir()  # a folder output is made itself
    finally:
        os.chdir(here)
    assert "outputs go to scratch/ensemble/" in capsys.readouterr().out
