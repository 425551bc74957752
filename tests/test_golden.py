"""The sample site builds to exactly the checked-in golden tree.

Every change to the output shows up in review as a diff of tests/golden/sample/.
Regenerate it with `python tests/golden_site.py`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from golden_site import GOLDEN, build_sample, tree


def test_sample_site_matches_golden_output(tmp_path: Path) -> None:
    built = tree(build_sample(tmp_path))
    expected = tree(GOLDEN)
    assert sorted(built) == sorted(expected), "files added or missing: regenerate and review"
    for name, data in expected.items():
        if built[name] != data:
            diff = "\n".join(difflib.unified_diff(
                data.decode("utf-8", "replace").splitlines(),
                built[name].decode("utf-8", "replace").splitlines(),
                f"golden/{name}", f"built/{name}", lineterm="", n=2))
            raise AssertionError(f"{name} differs from the golden output "
                                 f"(python tests/golden_site.py regenerates it):\n{diff[:4000]}")


def test_the_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    first = tree(build_sample(tmp_path / "a"))
    second = tree(build_sample(tmp_path / "b"))
    assert first == second
