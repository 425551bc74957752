"""`csblog init` and `csblog new`: start a site, start an essay. Never overwrite a file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from csblog.config import CONFIG_FILE, load_config
from csblog.errors import CsblogError, UsageError
from csblog.urls import slugify

CONFIG_TEMPLATE = """\
# csblog settings: every key is described in the README's configuration reference.
title = "{title}"
description = "Essays about service: the people who give it and the people who get it."
base_url = "https://example.org/"   # where the site will live; may end in a path like /blog/
language = "en"
timezone = "UTC"                    # an IANA name, e.g. "Europe/Lisbon"
author = "me"                       # the author id of content/authors/me.md
email = "me@example.org"            # where "Reply by email" sends replies
posts_per_page = 10

[permalinks]
posts = "/posts/{{slug}}/"

[feed]
full_content = true
limit = 20

[extra]
"""

FIRST_POST = """\
---
title: "Welcome to my notebook"
date: {date}
tags: [service, notes]
---
This is your first essay. Edit it in `content/posts/`, or start a new one with
`csblog new "My next essay"`.

Every essay ends with a "Reply by email" link: readers write to you, and you can publish the
replies you want to keep in `content/comments/<essay-slug>/`.
"""

ABOUT_PAGE = """\
---
title: About
weight: 1
---
This site collects essays about service: the counter, the phone line, the table, the ticket queue.
"""

AUTHOR = """\
---
name: Me
email: me@example.org
---
A short biography: who you are and why you write about service.
"""


def _write_new(path: Path, text: str) -> None:
    """Create a file; refuse if it exists (never overwrite a writer's work)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise CsblogError(f"{path} already exists; it was left as it is",
                          hint="choose another title or remove the file yourself") from None


def init_site(target: Path, today: datetime) -> list[Path]:
    """Create a new site in `target` (which may exist but must not hold a csblog.toml)."""
    if (target / CONFIG_FILE).exists():
        raise UsageError(f"{target / CONFIG_FILE} already exists: this is already a csblog site",
                         hint="run 'csblog build' there, or choose another folder")
    title = target.resolve().name.replace("-", " ").replace("_", " ").title() or "My essays"
    files = {
        target / CONFIG_FILE: CONFIG_TEMPLATE.format(title=title.replace('"', "'")),
        target / "content" / "posts" / f"{today:%Y-%m-%d}-welcome.md":
            FIRST_POST.format(date=f"{today:%Y-%m-%d}"),
        target / "content" / "pages" / "about.md": ABOUT_PAGE,
        target / "content" / "authors" / "me.md": AUTHOR,
    }
    for path in files:
        if path.exists():
            raise UsageError(f"{path} already exists; nothing was written",
                             hint="run 'csblog init' in an empty folder")
    for path, text in files.items():
        _write_new(path, text)
    ignore = target / ".gitignore"
    if not ignore.exists():  # an existing one is the writer's: leave it as it is
        _write_new(ignore, "# what csblog builds: not your work, so not worth versioning\n"
                           "public/\n.csblog-cache/\n.csblog-serve/\n")
        files[ignore] = ""
    (target / "static").mkdir(exist_ok=True)
    return list(files)


def new_post(site_dir: Path, title: str, tags: list[str], author: str | None,
             now: datetime | None = None) -> Path:
    """Create content/posts/YYYY-MM-DD-slug.md for a new essay, dated today in the site's zone."""
    config, _ = load_config(site_dir)
    today = (now or datetime.now(config.tz)).astimezone(config.tz)
    slug = slugify(title, config.unicode_slugs)
    if not slug:
        raise UsageError(f"the title {title!r} has no letters or digits to make a file name from")
    lines = ["---", f"title: {_yaml_string(title)}", f"date: {today:%Y-%m-%d}"]
    if tags:
        lines.append("tags: [" + ", ".join(_yaml_string(t) for t in tags) + "]")
    if author:
        lines.append(f"author: {_yaml_string(author)}")
    lines += ["draft: true", "---", "", "Write your essay here.", ""]
    path = site_dir / "content" / "posts" / f"{today:%Y-%m-%d}-{slug}.md"
    _write_new(path, "\n".join(lines))
    return path


def _yaml_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


GITHUB_WORKFLOW = """\
# Builds the site with csblog and publishes it with GitHub Pages.
# Turn Pages on in the repository's settings: Pages -> Source: GitHub Actions.
name: Publish the site
on:
  push:
    branches: [main]
  workflow_dispatch:
permissions:
  contents: read
  pages: write
  id-token: write
concurrency:
  group: pages
  cancel-in-progress: false
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - run: python -m pip install {package}
      - run: csblog build
      - uses: actions/upload-pages-artifact@v3
        with:
          path: public
  deploy:
    needs: build
    runs-on: ubuntu-latest
    environment:
      name: github-pages
      url: ${{{{ steps.deployment.outputs.page_url }}}}
    steps:
      - id: deployment
        uses: actions/deploy-pages@v4
"""

GITLAB_CI = """\
# Builds the site with csblog and publishes it with GitLab Pages (Codeberg: see the README).
pages:
  image: python:3.11
  script:
    - python -m pip install {package}
    - csblog build -o public
  artifacts:
    paths:
      - public
  rules:
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
"""


def write_ci(site_dir: Path, host: str, package: str = "csblog") -> Path:
    """Write a CI workflow that builds and publishes the site; never overwrites."""
    if host == "github":
        path = site_dir / ".github" / "workflows" / "csblog.yml"
        text = GITHUB_WORKFLOW.format(package=package)
    else:
        path = site_dir / ".gitlab-ci.yml"
        text = GITLAB_CI.format(package=package)
    _write_new(path, text)
    return path
