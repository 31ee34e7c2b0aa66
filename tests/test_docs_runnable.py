"""Every shell block marked runnable in README.md and docs/DEMO_GUIDE.md runs, as a user runs it.

The marker is the fence's info string: a block opened with three backticks and ``bash runnable``
is run by this test; a plain ``bash`` block is not (``make demo`` needs the checkout, a real
cluster needs a real cluster). Each block runs under ``bash -euo pipefail`` in its own fresh
temporary folder, with the project's ``sim-arena`` and ``python`` first on PATH (the folder of
the interpreter running the tests), against the embedded backend or a ``sim-arena fake-cluster``
the block starts itself; the whole process group is stopped afterwards, whatever the block did.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = (REPO / "README.md", REPO / "docs" / "DEMO_GUIDE.md")
RUNNABLE = re.compile(r"^```bash runnable\n(.*?)^```$", re.S | re.M)


def runnable_blocks(path: Path) -> list[str]:
    """The bodies of the ``bash runnable`` blocks of ``path``, in order."""
    return RUNNABLE.findall(path.read_text(encoding="utf-8"))


BLOCKS = [(path, index, body) for path in DOCS for index, body in enumerate(runnable_blocks(path))]


def test_each_document_has_runnable_blocks() -> None:
    counts = {path.name: len(runnable_blocks(path)) for path in DOCS}
    assert all(count >= 1 for count in counts.values()), counts


@pytest.mark.parametrize(("path", "index", "body"), BLOCKS,
                         ids=[f"{path.name}-{index}" for path, index, _ in BLOCKS])
def test_runnable_block(path: Path, index: int, body: str, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("KUBECONFIG", None)
    proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", body], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # a fake cluster the block left running
        except ProcessLookupError:
            pass
        proc.wait()
    assert proc.returncode == 0, f"{path.name} runnable block {index} failed ({proc.returncode}):\n{body}\n--- output\n{out}"
    assert not (REPO / "fake.kubeconfig").exists()
