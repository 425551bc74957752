"""The command line: arguments in, one call to the library, errors out. The only module that prints.

Exit codes: 0 success, 1 content or config errors, 2 usage errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO

import csblog
from csblog.errors import CsblogError, Problem


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csblog",
        description="Build a blog of essays from Markdown files.",
    )
    parser.add_argument("--version", action="version", version=f"csblog {csblog.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("-C", "--site", metavar="DIR", default=".",
                        help="the site folder (default: the current folder)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    init = commands.add_parser("init", help="create a new site and build it")
    init.add_argument("directory", nargs="?", default=".", help="where (default: here)")

    new = commands.add_parser("new", help="start a new essay in content/posts/")
    new.add_argument("title", help='the title, in quotes: "My essay"')
    new.add_argument("--tags", default="", help="comma-separated tags")
    new.add_argument("--author", default=None, help="an author id from content/authors/")

    build = commands.add_parser("build", help="build the site into the output folder")
    build.add_argument("--drafts", action="store_true", help="include drafts")
    build.add_argument("--future", action="store_true", help="include posts dated in the future")
    build.add_argument("-o", "--output", metavar="DIR", help="output folder (default: public)")
    build.add_argument("--base-url", metavar="URL", help="override base_url from csblog.toml")
    loudness = build.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    loudness.add_argument("-v", "--verbose", action="store_true", help="print every warning")
    check = commands.add_parser("check", help="find broken links and other problems "
                                               "without writing the site")
    check.add_argument("--drafts", action="store_true", help="check drafts too")
    check.add_argument("--future", action="store_true", help="check future posts too")
    check.add_argument("--external", action="store_true",
                       help="also check links to other sites (slow; needs the network)")
    check.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="for each external link (default: 10)")
    serve = commands.add_parser("serve", help="build, serve on this machine, and reload "
                                               "open pages on every save")
    serve.add_argument("--port", type=int, default=8000, help="default: 8000")
    serve.add_argument("--bind", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--drafts", action="store_true", help="include drafts")
    serve.add_argument("--future", action="store_true", help="include posts dated in the future")
    serve.add_argument("--open", action="store_true", help="open the site in a browser")

    deploy = commands.add_parser("deploy", help="build for production and publish")
    deploy.add_argument("target", nargs="?", help="a [deploy.NAME] from csblog.toml "
                                                  "(default: the first)")
    deploy.add_argument("--dry-run", action="store_true",
                        help="list what would be added, changed and removed; change nothing")

    ci = commands.add_parser("ci", help="write a CI workflow that builds and publishes the site")
    ci.add_argument("host", choices=["github", "gitlab"], help="where the repository lives")
    return parser


def _print_problems(problems: Sequence[Problem], label: str) -> None:
    for problem in problems:
        print(f"{label}: {problem}", file=sys.stderr)


def _summary(report: object) -> str:
    from csblog.build import BuildReport

    assert isinstance(report, BuildReport)
    left = []
    if report.left_out.drafts:
        left.append(f"{report.left_out.drafts} draft{'s' if report.left_out.drafts != 1 else ''}")
    if report.left_out.future:
        left.append(f"{report.left_out.future} future")
    left_text = f"; left out {' and '.join(left)} (use --drafts / --future)" if left else ""
    files = report.files
    work = (f"{report.parsed} sources parsed, {report.reused} from cache, "
            f"{report.rendered} pages rendered")
    return (f"Built {report.posts} essays, {report.pages} pages, {report.tags} tags: "
            f"{files.written} files written, {files.unchanged} unchanged, {files.removed} removed"
            f" ({work}){left_text} in {report.seconds:.2f} s -> {report.output}")


class _Progress:
    """A one-line progress display on a terminal, shown only once a build has taken a second."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, done: int, total: int, stage: str) -> None:
        now = time.monotonic()
        if now - self.started < 1.0 or (now - self.last < 0.1 and done < total):
            return
        self.last = now
        width = 30
        filled = width * done // max(total, 1)
        self.stream.write(f"\r{stage}: [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{total}\x1b[K")
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            self.shown = False
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _cmd_build(args: argparse.Namespace, site_dir: Path) -> int:
    from csblog.build import BuildFailed, BuildOptions, build

    options = BuildOptions(drafts=args.drafts, future=args.future, base_url=args.base_url,
                           output_dir=args.output)
    progress = _Progress(sys.stderr) if not args.quiet and sys.stderr.isatty() else None
    try:
        report = build(site_dir, options, progress)
    except BuildFailed as exc:
        if progress is not None:
            progress.clear()
        if not args.quiet:
            _print_problems(exc.warnings, "warning")
        raise
    finally:
        if progress is not None:
            progress.clear()
    if not args.quiet:
        _print_problems(report.warnings, "warning")
        if args.verbose:
            for source, why in report.left_out.sources:
                print(f"left out: {source} ({why})")
        print(_summary(report))
    return 0


def _cmd_check(args: argparse.Namespace, site_dir: Path) -> int:
    from csblog.build import BuildFailed
    from csblog.check import CheckOptions, check_site

    options = CheckOptions(drafts=args.drafts, future=args.future, external=args.external,
                           timeout=args.timeout)
    try:
        report = check_site(site_dir, options)
    except BuildFailed as exc:
        _print_problems(exc.warnings, "warning")
        raise
    for note in report.notes:
        print(f"note: {note}")
    _print_problems(report.warnings, "warning")
    _print_problems(report.errors, "error")
    external = f", {report.external_links} external" if args.external else ""
    print(f"Checked {report.pages} pages and {report.links} links{external}: "
          f"{len(report.errors)} errors, {len(report.warnings)} warnings")
    return 1 if report.errors else 0


def _cmd_serve(args: argparse.Namespace, site_dir: Path) -> int:
    import time
    import webbrowser

    from csblog.serving import ServeOptions, Session

    session = Session(site_dir, ServeOptions(port=args.port, bind=args.bind, drafts=args.drafts,
                                             future=args.future),
                      say=lambda text: print(text, flush=True))
    url = session.start()
    if session.last_report is not None:
        print(_summary(session.last_report))
    print(f"Serving {url} (watching for changes; Ctrl-C to stop)", flush=True)
    if args.open:
        webbrowser.open(url)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping", flush=True)
    finally:
        session.stop()
    return 0


def _cmd_deploy(args: argparse.Namespace, site_dir: Path) -> int:
    from csblog.build import BuildFailed, BuildOptions, build
    from csblog.config import load_config
    from csblog.deploy import choose_target, deploy

    config, _ = load_config(site_dir)
    target = choose_target(config, args.target)  # a wrong name fails before building
    try:
        report = build(site_dir, BuildOptions())  # production: no drafts, no future posts
    except BuildFailed as exc:
        _print_problems(exc.warnings, "warning")
        print("error: nothing was published: fix the errors below and deploy again",
              file=sys.stderr)
        raise
    _print_problems(report.warnings, "warning")
    print(_summary(report))
    result = deploy(config, report.output, target, dry_run=args.dry_run)
    verb = "would be" if args.dry_run else "were"
    for label, paths in (("added", result.added), ("changed", result.changed),
                         ("removed", result.removed)):
        for path in paths:
            print(f"  {label}: {path}")
    where = target.remote or target.destination
    if result.nothing_to_do:
        print(f"Nothing to publish: {where} already has this build.")
    else:
        print(f"{len(result.added)} files {verb} added, {len(result.changed)} changed and "
              f"{len(result.removed)} removed at {where}"
              + (f" (branch {target.branch}, commit {result.commit[:10]})"
                 if result.commit else "")
              + (" (dry run: nothing was changed)" if args.dry_run else "."))
    return 0


def _cmd_ci(args: argparse.Namespace, site_dir: Path) -> int:
    from csblog.scaffold import write_ci

    path = write_ci(site_dir, args.host)
    print(f"created {path}: commit it, and turn on Pages for the repository")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from csblog.build import BuildOptions, build
    from csblog.scaffold import init_site

    target = Path(args.directory)
    target.mkdir(parents=True, exist_ok=True)
    created = init_site(target, datetime.now())
    for path in created:
        print(f"created {path}")
    report = build(target, BuildOptions())
    print(_summary(report))
    print(f"Next: cd {target} && csblog new \"My first real essay\"")
    return 0


def _cmd_new(args: argparse.Namespace, site_dir: Path) -> int:
    from csblog.scaffold import new_post

    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    path = new_post(site_dir, args.title, tags, args.author)
    print(f"created {path} (a draft: set 'draft: false' or remove the line to publish)")
    return 0


def run() -> None:
    """The `csblog` command: `main()`, then exit without tearing the interpreter down.

    A big build leaves a hundred megabytes of small objects that Python would free one by one at
    exit (a quarter of a second at 10,000 essays) for nothing: every file is written and closed
    by then, so the process flushes its output and leaves at once.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help/--version
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return 2
    site_dir = Path(args.site)
    try:
        if args.command == "build":
            return _cmd_build(args, site_dir)
        if args.command == "init":
            return _cmd_init(args)
        if args.command == "new":
            return _cmd_new(args, site_dir)
        if args.command == "check":
            return _cmd_check(args, site_dir)
        if args.command == "serve":
            return _cmd_serve(args, site_dir)
        if args.command == "deploy":
            return _cmd_deploy(args, site_dir)
        if args.command == "ci":
            return _cmd_ci(args, site_dir)
    except CsblogError as exc:
        if args.debug:
            traceback.print_exc()
        _print_problems(exc.problems, "error")
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; the previous output is unchanged", file=sys.stderr)
        return 130
    except Exception:  # a bug: say so plainly, and show the traceback only when asked
        if args.debug:
            raise
        print("error: csblog hit an internal error (a bug). Run again with --debug and report "
              "the traceback.", file=sys.stderr)
        return 70
    parser.print_help()
    return 2
