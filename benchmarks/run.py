#!/usr/bin/env python3
"""Time csblog builds, and Pelican's and Hugo's on the same corpus, on this machine, in one run.

    python3 benchmarks/run.py [--sizes 1000,5000,10000] [--runs 3] [--peers] [--json out.json]
                              [--kinds cold,edit,nochange] [--peer-tools pelican,hugo]

For each size a deterministic corpus is made with ../shared/bench/make_corpus.py (yaml flavour)
in the content/posts/ of a fresh csblog site. With --peers, Pelican and Hugo sites of the same
essays come from ../shared/bench/setup_peers.sh (set up under $PEERS, default /tmp/peers, when
missing; that downloads from PyPI and takes minutes).

Each run measures, interleaving the generators so that a slow moment of the machine hits all of
them alike:
  cold        output (and csblog's cache) deleted first; the deletion is not timed
  one edit    a word appended to the middle essay (by file name), then a build into the
              existing output: csblog with its cache, Pelican with its content cache on,
              Hugo (no persistent cache) a full build
  no change   csblog only: a build with nothing changed
  peak memory the largest resident set of the build process during the cold build
                (for csblog's pool: the main process; workers are separate, smaller processes)
The table shows medians over the runs and csblog's time as a ratio of each peer's. Without
"cold" in --kinds, each generator builds once, untimed, before the runs (to time edits alone).
csblog is run from this checkout (PYTHONPATH), whatever csblog is installed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO.parent / "shared" / "bench"
SITE_TOML = """title = "Service Notes"
description = "A benchmark corpus of essays about service."
base_url = "https://example.com/"
posts_per_page = 10
"""


@dataclass
class Timing:
    seconds: float  # wall clock
    peak_mb: float
    cpu: float  # user + system seconds of the process and the children it waited for


@dataclass
class Results:
    """Every measurement: (size, tool, kind) -> list of timings, one per run."""

    runs: dict[tuple[int, str, str], list[Timing]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)

    def add(self, size: int, tool: str, kind: str, timing: Timing) -> None:
        self.runs.setdefault((size, tool, kind), []).append(timing)

    def median(self, size: int, tool: str, kind: str, attr: str = "seconds") -> float | None:
        values = [getattr(t, attr) for t in self.runs.get((size, tool, kind), [])]
        return statistics.median(values) if values else None


def run_timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Timing:
    """Wall time and peak resident memory of one child process (os.wait4 gives its rusage)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed in {cwd} ({process.returncode}):\n{stderr}")
    # ru_maxrss is in KiB on Linux; the times include reaped children (csblog's workers)
    return Timing(seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)


def middle_post(posts_dir: Path) -> Path:
    files = sorted(p for p in posts_dir.iterdir() if p.suffix == ".md")
    return files[len(files) // 2]


def append_word(path: Path, word: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n{word}\n")


class Csblog:
    name = "csblog"

    def __init__(self, site: Path, workers: int | None) -> None:
        self.site = site
        self.env = dict(os.environ, PYTHONPATH=str(REPO))
        # an installed csblog has its modules compiled (pip does it, as for Pelican's venv):
        # let this checkout's be compiled once too, not at every build
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        if workers:
            self.env["CSBLOG_WORKERS"] = str(workers)
        self.argv = [sys.executable, "-m", "csblog", "-C", str(site), "build", "--quiet"]

    def cold(self) -> Timing:
        remove(self.site / "public")
        remove(self.site / ".csblog-cache")
        return run_timed(self.argv, self.site, self.env)

    def edit(self, word: str) -> Timing:
        append_word(middle_post(self.site / "content" / "posts"), word)
        return run_timed(self.argv, self.site, self.env)

    def no_change(self) -> Timing:
        return run_timed(self.argv, self.site, self.env)

    def startup(self) -> Timing:
        """Interpreter start-up plus importing csblog's command line: the floor of any build."""
        return run_timed([sys.executable, "-c", "import csblog.cli, csblog.build"], self.site,
                         self.env)


class Pelican:
    name = "Pelican"

    def __init__(self, peers: Path, size: int) -> None:
        self.cold_site = peers / "sites" / f"pelican-{size}"
        self.warm_site = peers / "sites" / f"pelican-warm-{size}"
        self.argv = [str(peers / "venv" / "bin" / "pelican"), "content", "-s", "pelicanconf.py",
                     "-o", "output", "-q"]

    def cold(self) -> Timing:
        remove(self.cold_site / "output")
        return run_timed(self.argv, self.cold_site)

    def prepare_edit(self) -> None:
        run_timed(self.argv, self.warm_site)  # fills the content cache

    def edit(self, word: str) -> Timing:
        append_word(middle_post(self.warm_site / "content"), word)
        return run_timed(self.argv, self.warm_site)


class Hugo:
    name = "Hugo"

    def __init__(self, peers: Path, size: int) -> None:
        self.cold_site = peers / "sites" / f"hugo-{size}"
        self.warm_site = peers / "sites" / f"hugo-warm-{size}"
        self.argv = [hugo_binary(peers), "--quiet"]

    def cold(self) -> Timing:
        remove(self.cold_site / "public")
        remove(self.cold_site / "resources")
        return run_timed(self.argv, self.cold_site)

    def prepare_edit(self) -> None:
        run_timed(self.argv, self.warm_site)

    def edit(self, word: str) -> Timing:
        append_word(middle_post(self.warm_site / "content" / "posts"), word)
        return run_timed(self.argv, self.warm_site)


def hugo_binary(peers: Path) -> str:
    for line in (peers / "versions.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("HUGO="):
            return line.removeprefix("HUGO=")
    raise SystemExit(f"no HUGO= line in {peers / 'versions.txt'}: run setup_peers.sh")


def make_csblog_site(work: Path, size: int) -> Path:
    site = work / f"csblog-{size}"
    if (site / "content" / "posts").is_dir():
        shutil.rmtree(site)
    site.mkdir(parents=True)
    (site / "csblog.toml").write_text(SITE_TOML, encoding="utf-8")
    subprocess.run([sys.executable, str(BENCH / "make_corpus.py"), str(size),
                    str(site / "content" / "posts"), "--flavor", "yaml"],
                   check=True, stdout=subprocess.DEVNULL)
    return site


def ensure_peers(peers: Path, sizes: list[int]) -> None:
    missing = [n for n in sizes if not (peers / "sites" / f"hugo-warm-{n}").is_dir()
               or not (peers / "sites" / f"pelican-warm-{n}").is_dir()]
    if missing or not (peers / "versions.txt").is_file():
        print(f"setting up Pelican and Hugo for {missing or sizes} under {peers} "
              "(downloads from PyPI; minutes)...", file=sys.stderr)
        subprocess.run(["bash", str(BENCH / "setup_peers.sh"), *map(str, missing or sizes)],
                       check=True, env=dict(os.environ, PEERS=str(peers)))


def fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "–"
    if unit == "MB":
        return f"{value:.0f} MB"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def ratio(ours: float | None, theirs: float | None) -> str:
    if ours is None or theirs is None or theirs == 0:
        return "–"
    return f"{ours / theirs:.2f}×" if ours / theirs >= 0.1 else f"1/{theirs / ours:.0f}"


def table(results: Results, sizes: list[int], peers: bool, runs: int) -> str:
    head = "| essays | build | csblog |"
    rule = "|---|---|---|"
    if peers:
        head += " Pelican | Hugo | csblog ÷ Pelican | csblog ÷ Hugo |"
        rule += "---|---|---|---|"
    lines = [f"Medians of {runs} run(s); cold builds exclude deleting the old output. "
             "Wall = elapsed; CPU = user + system time of the build and its worker processes.",
             "", head, rule]
    rows = [("cold, wall", "cold", "seconds"), ("cold, CPU", "cold", "cpu"),
            ("one essay edited, wall", "edit", "seconds"), ("one essay edited, CPU", "edit", "cpu"),
            ("no change, wall", "nochange", "seconds"), ("no change, CPU", "nochange", "cpu"),
            ("peak memory (cold)", "cold", "peak_mb")]
    for size in sizes:
        for label, kind, attr in rows:
            unit = "MB" if attr == "peak_mb" else "s"
            ours = results.median(size, "csblog", kind, attr)
            line = f"| {size:,} | {label} | {fmt(ours, unit)} |"
            if peers:
                pel = results.median(size, "Pelican", kind, attr)
                hugo = results.median(size, "Hugo", kind, attr)
                line += (f" {fmt(pel, unit)} | {fmt(hugo, unit)} | {ratio(ours, pel)} |"
                         f" {ratio(ours, hugo)} |")
            lines.append(line)
    startup = results.median(0, "csblog", "startup")
    lines += ["", f"Python start-up + importing csblog (the floor of any csblog build): "
                  f"{fmt(startup)}", f"Load average during the runs (1 min): {load_note(results)}"]
    return "\n".join(lines)


def load_note(results: Results) -> str:
    loads = results.loads
    if not loads:
        return "–"
    return f"{min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} CPUs"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,5000,10000",
                        help="essay counts, comma-separated (default: 1000,5000,10000)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--peers", action="store_true",
                        help="also time Pelican and Hugo (set up under $PEERS when missing)")
    parser.add_argument("--peer-tools", default="pelican,hugo",
                        help="which peers to time with --peers (default: pelican,hugo)")
    parser.add_argument("--peers-dir", type=Path,
                        default=Path(os.environ.get("PEERS", "/tmp/peers")))
    parser.add_argument("--workers", type=int, default=None,
                        help="csblog worker processes (default: chosen from the site's size)")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for the csblog sites (default: a temporary folder)")
    parser.add_argument("--json", type=Path, default=None, help="also write every timing here")
    parser.add_argument("--kinds", default="cold,edit,nochange",
                        help="what to time, comma-separated (default: cold,edit,nochange)")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    kinds = {k.strip() for k in args.kinds.split(",") if k.strip()}
    if args.peers:
        ensure_peers(args.peers_dir, sizes)
    work = args.work or Path(tempfile.mkdtemp(prefix="csblog-bench-"))
    results = Results()
    for size in sizes:
        print(f"{size} essays: making the corpus...", file=sys.stderr)
        ours = Csblog(make_csblog_site(work, size), args.workers)
        peers: list[Pelican | Hugo] = []
        if args.peers:
            tools = {t.strip().lower() for t in args.peer_tools.split(",")}
            if "pelican" in tools:
                peers.append(Pelican(args.peers_dir, size))
            if "hugo" in tools:
                peers.append(Hugo(args.peers_dir, size))
            for peer in peers:
                peer.prepare_edit()
        if "cold" not in kinds:
            ours.no_change()  # the first build, untimed
        for run in range(args.runs):
            results.loads.append(os.getloadavg()[0])
            word = f"edited{run}x{int(time.time())}"
            if "cold" in kinds:
                results.add(size, "csblog", "cold", ours.cold())
                for peer in peers:
                    results.add(size, peer.name, "cold", peer.cold())
            if "edit" in kinds:
                results.add(size, "csblog", "edit", ours.edit(word))
                for peer in peers:
                    results.add(size, peer.name, "edit", peer.edit(word))
            if "nochange" in kinds:
                results.add(size, "csblog", "nochange", ours.no_change())
            results.add(0, "csblog", "startup", ours.startup())
            results.loads.append(os.getloadavg()[0])
            done = {k[1] + " " + k[2]: f"{v[-1].seconds:.2f}s/{v[-1].cpu:.2f}cpu"
                    for k, v in results.runs.items() if k[0] == size}
            print(f"  run {run + 1}/{args.runs}: {done}", file=sys.stderr)
    print(table(results, sizes, args.peers, args.runs))
    if args.json:
        args.json.write_text(json.dumps(
            [{"size": s, "tool": t, "kind": k, "seconds": [x.seconds for x in v],
              "peak_mb": [x.peak_mb for x in v], "cpu": [x.cpu for x in v]}
             for (s, t, k), v in results.runs.items()],
            indent=1), encoding="utf-8")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
