"""Executed notebooks are scrubbed to stable bytes (a1lab.notebook.steady)."""

import nbformat

from a1lab.notebook import steady


def _executed(outputs: list[dict]) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print('a'); print('b')", id="c1")
    cell.outputs = [nbformat.from_dict(o) for o in outputs]
    cell.metadata["papermill"] = {"start_time": "2026-01-01T00:00:00", "duration": 1.5}
    nb.cells.append(cell)
    nb.metadata["papermill"] = {"input_path": "/home/someone/a1lab/notebooks/x.ipynb", "duration": 3.0}
    return nb


def test_a_kernel_s_split_stream_gives_the_same_notebook_as_one_message():
    """The kernel sends prints as one or several stream messages depending on timing: the bytes must not."""
    one = _executed([{"output_type": "stream", "name": "stdout", "text": "a\nb\n"}])
    two = _executed([{"output_type": "stream", "name": "stdout", "text": "a\n"},
                     {"output_type": "stream", "name": "stdout", "text": "b\n"}])
    assert nbformat.writes(steady(one, "notebooks/x.ipynb")) == nbformat.writes(steady(two, "notebooks/x.ipynb"))


def test_order_other_streams_clock_and_paths():
    nb = steady(_executed([{"output_type": "stream", "name": "stdout", "text": "a\n"},
                           {"output_type": "stream", "name": "stderr", "text": "warn\n"},
                           {"output_type": "stream", "name": "stdout", "text": "b\n"},
                           {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                            "data": {"text/plain": "<object at 0x7f3a2b>"}}]), "notebooks/x.ipynb")
    outputs = nb.cells[0].outputs
    assert [o.get("name") for o in outputs] == ["stdout", "stderr", "stdout", None]  # not reordered
    assert outputs[-1]["data"]["text/plain"] == "<object>"
    assert nb.metadata["papermill"] == {"input_path": "notebooks/x.ipynb"}
    assert "start_time" not in nb.cells[0].metadata["papermill"]


def test_tables_show_counts_as_integers_and_scores_rounded():
    import numpy as np
    import pandas as pd

    from a1lab.notebook import tidy

    table = pd.DataFrame({"n": [3504, 1752]}, dtype=float).assign(rps=[0.19083512345, 0.2], gap=[np.nan, 12.0],
                                                                  name=["a", "b"])
    shown = tidy(table).to_string()
    assert "3504.0" not in shown and "3504" in shown and "0.190835" in shown and "0.19083512" not in shown
    assert str(tidy(table)["gap"].dtype) == "Int64" and tidy(table)["name"].tolist() == ["a", "b"]
