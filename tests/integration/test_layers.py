"""The layer contract is enforced: a deliberate violation makes import-linter fail."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [
    p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in {"tests", "migrations"}
]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=120,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_real_tree_keeps_every_contract(project_copy: Path) -> None:
    result = _lint(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", "")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("core/_violation.py", "import portal.app\n"),
        ("portal/_violation.py", "import backoffice.app\n"),
        ("workers/_violation.py", "from portal import pages\n"),
        ("kyc/_violation.py", "import litestar\n"),
        ("mt_bridge/_violation.py", "from jinja2 import Template\n"),
        ("core/_violation.py", "import kyc.review\n"),
        ("ib/_violation.py", "import litestar\n"),
        ("ib/_violation.py", "from ib.web import pages\n"),
        ("backoffice/_violation.py", "from ib.web import api\n"),
    ],
)
def test_a_deliberate_violation_fails(project_copy: Path, module: str, source: str) -> None:
    (project_copy / module).write_text(source)
    result = _lint(project_copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
