"""Shared fixtures: write and build sites in temporary folders; the sample site built once.

Layered like Lektor's: a site folder -> a build -> parsed output. The sample site is copied out of
the repository and built once per session (three times: as published, with --drafts, with
--future), into folders of its own so the repository's public/ is never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from helpers import Result, SampleBuild, copy_sample_site, make_site, read_source_posts

from csblog.build import BuildOptions, build
from csblog.cli import main


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Result]:
    """Run `csblog ARGS...` in-process; returns the exit code and what it printed.

    A traceback is a bug whatever the exit code, so no run may print one.
    """

    def run(*argv: str) -> Result:
        capsys.readouterr()  # drop anything printed before
        code = main([str(a) for a in argv])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, err
        return Result(code, out, err)

    return run


@pytest.fixture
def build_site(run_cli: Callable[..., Result]) -> Callable[..., Result]:
    """`build_site(site_dir, *args)` runs `csblog -C site_dir build *args`."""

    def run(site_dir: Path, *args: str) -> Result:
        return run_cli("-C", str(site_dir), "build", *args)

    return run


@pytest.fixture
def site(tmp_path: Path) -> Callable[..., Path]:
    """`site(config, files)` writes a site into a fresh folder under tmp_path."""
    count = 0

    def write(config: str, files: Mapping[str, str] | None = None) -> Path:
        nonlocal count
        count += 1
        return make_site(tmp_path / f"site{count}", config, files)

    return write


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleBuild:
    """The repository's sample site, built once per session."""
    site_dir = copy_sample_site(tmp_path_factory.mktemp("sample") / "site")
    report = build(site_dir)
    drafts = build(site_dir, BuildOptions(drafts=True, output_dir="public-drafts"))
    future = build(site_dir, BuildOptions(future=True, output_dir="public-future"))
    return SampleBuild(site_dir, report.output, drafts.output, future.output, report,
                       tuple(read_source_posts(site_dir)))
