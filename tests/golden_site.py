"""The sample site's golden output: build it, compare it, regenerate it.

Regenerate after an intended change to the output (then review the diff in git):

    python tests/golden_site.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "sample"
SITE_PARTS = ("csblog.toml", "content", "static")


def copy_sample_site(target: Path) -> Path:
    """Copy the sample site (not its output or cache) into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for part in SITE_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, target / part)
        elif source.is_file():
            shutil.copy2(source, target / part)
    return target


def build_sample(workdir: Path) -> Path:
    """Build a copy of the sample site in `workdir`; return its output folder."""
    from csblog.build import BuildOptions, build

    site = copy_sample_site(workdir / "site")
    return build(site, BuildOptions()).output


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def regenerate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        output = build_sample(Path(tmp))
        if GOLDEN.exists():
            shutil.rmtree(GOLDEN)
        shutil.copytree(output, GOLDEN)
    print(f"wrote {len(tree(GOLDEN))} files to {GOLDEN.relative_to(REPO)}")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    regenerate()
