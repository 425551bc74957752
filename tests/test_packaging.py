"""A clean copy of the repository, installed with `pip install .` into a new virtual environment,
gives a `csblog` command that creates and builds a site anywhere: the wheel carries the theme."""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

import lxml.html
import pytest

REPO = Path(__file__).resolve().parent.parent


def _clean_copy(target: Path) -> Path:
    """The files a clean clone would have: tracked files plus new, not ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = REPO / rel
        if source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
    return target


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to list the clean tree")
def test_pip_install_into_a_new_venv_gives_a_working_csblog(tmp_path: Path) -> None:
    source = _clean_copy(tmp_path / "src")
    # the new environment must not see this checkout through an inherited PYTHONPATH
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], check=True,
                   capture_output=True, env=env)
    csblog = env_dir / "bin" / "csblog"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(csblog), "init", "my-essays"], cwd=elsewhere,
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    site = elsewhere / "my-essays"
    result = subprocess.run([str(csblog), "build"], cwd=site, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Built 1 essays"), result.stdout
    home = lxml.html.parse(str(site / "public" / "index.html")).getroot()
    titles = [a.text_content().strip() for a in home.xpath("//main//article//h2//a")]
    assert titles == ["Welcome to my notebook"]
    # the theme's stylesheet came from inside the installed wheel, not from this checkout
    assert (site / "public" / "css" / "style.css").stat().st_size > 0
    installed = subprocess.run(
        [str(python), "-c", "import csblog.themes as t; print(t.builtin_theme_dir())"],
        capture_output=True, text=True, check=True, cwd=elsewhere, env=env).stdout.strip()
    assert Path(installed).is_relative_to(env_dir), installed
