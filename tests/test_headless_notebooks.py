"""The notebooks run headless from the environment ``make demo`` sets up: ``jupyter nbconvert --execute``.

``tests/test_notebooks.py`` executes every notebook through nbclient's API; this test runs the
command a user types after ``make demo`` (which installs ``.[test]``, nbconvert included), on the
quickest notebook, so a missing ``jupyter`` command or nbconvert in that environment fails here.
The executed copy goes to a temporary folder: nothing is written into the repository.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

NOTEBOOK = ROOT / "notebooks" / "01-quickstart.ipynb"
"""The notebook run (the quickest: about 10 s here)."""

JUPYTER = Path(sys.executable).parent / "jupyter"
"""The ``jupyter`` command of this environment (``.venv/bin/jupyter`` after ``make demo``)."""

TIMEOUT = 300  # seconds for the whole command


def test_jupyter_nbconvert_executes_a_notebook_headless(tmp_path: Path) -> None:
    assert JUPYTER.exists(), f"{JUPYTER} is missing: the [test] extra installs nbconvert, which brings it"
    env = dict(os.environ)
    env["PATH"] = str(JUPYTER.parent) + os.pathsep + env.get("PATH", "")  # the kernel is this interpreter
    env["MPLCONFIGDIR"] = str(tmp_path / "mpl")
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    env.pop("MPLBACKEND", None)
    cmd = [str(JUPYTER), "nbconvert", "--to", "notebook", "--execute", str(NOTEBOOK), "--output-dir", str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    executed = json.loads((tmp_path / NOTEBOOK.name).read_text())
    code = [c for c in executed["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code)
    assert sum(len(c.get("outputs", [])) for c in code) > 0
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
