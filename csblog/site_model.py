"""Parsed content -> `Site`: what is published, in what order, on which pages. No I/O.

Drafts and future posts are left out unless asked for; tags and authors are gathered; each post
learns its neighbours, related posts and replies; listings are paginated; links between sources
are resolved to URLs; and two sources that would write the same file are an error naming both.
"""

from __future__ import annotations

import dataclasses
import heapq
import posixpath
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from csblog.errors import Problem
from csblog.markdown_rendering import resolve_links
from csblog.posts import Author, Comment, ContentSettings, Page, Post, Tag, plain_author
from csblog.urls import (
    ARCHIVE_PATH,
    AUTHORS_PATH,
    HOME_PATH,
    TAGS_PATH,
    output_file,
    paginated_path,
    slugify,
    tag_feed_path,
    tag_path,
)

MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
               "September", "October", "November", "December")


@dataclass(frozen=True)
class Paginator:
    number: int
    total: int
    prev_url: str | None
    next_url: str | None
    first_url: str
    last_url: str
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Listing:
    """One page of a paginated list of posts: the home page, a tag or an author."""

    kind: str  # "home", "tag" or "author"
    path: str
    posts: tuple[Post, ...]
    paginator: Paginator
    tag: Tag | None = None
    author: Author | None = None


@dataclass(frozen=True)
class ArchiveMonth:
    year: int
    month: int
    name: str
    posts: tuple[Post, ...]


@dataclass(frozen=True)
class ArchiveYear:
    year: int
    count: int
    months: tuple[ArchiveMonth, ...]


@dataclass(frozen=True)
class Redirect:
    path: str  # the old site path
    target_url: str  # absolute URL of the new place
    source: str


@dataclass(frozen=True)
class LeftOut:
    drafts: int = 0
    future: int = 0
    sources: tuple[tuple[str, str], ...] = ()  # (source, "draft" or "dated <date>")


@dataclass(frozen=True)
class BuildFlags:
    drafts: bool = False
    future: bool = False


@dataclass(frozen=True)
class Site:
    posts: tuple[Post, ...]  # published, newest first
    pages: tuple[Page, ...]
    tags: tuple[Tag, ...]  # by name
    authors: tuple[Author, ...]  # those with published posts, by name
    posts_by_tag: Mapping[str, tuple[Post, ...]]
    posts_by_author: Mapping[str, tuple[Post, ...]]
    neighbours: Mapping[str, tuple[Post | None, Post | None]]  # post id -> (newer, older)
    related: Mapping[str, tuple[Post, ...]]
    comments: Mapping[str, tuple[Comment, ...]]  # post id -> replies, oldest first
    listings: tuple[Listing, ...]
    archive: tuple[ArchiveYear, ...]
    redirects: tuple[Redirect, ...]
    asset_paths: Mapping[str, str]  # source rel -> site path, for files copied from content/
    left_out: LeftOut
    default_author: Author | None
    # source rel -> URL of every essay, page and content file: what bodies' links resolve to
    link_targets: Mapping[str, str] = dataclasses.field(default_factory=dict)


def _sort_key(post: Post) -> tuple[float, str, str]:
    return (-post.date.timestamp(), post.title.lower(), post.source)


def asset_site_path(rel: str) -> str:
    """'content/posts/images/a.svg' -> '/posts/images/a.svg'."""
    return "/" + rel.split("/", 1)[1]


def paginate(posts: tuple[Post, ...], per_page: int, first_path: str, kind: str,
             settings: ContentSettings, tag: Tag | None = None,
             author: Author | None = None) -> list[Listing]:
    chunks = [posts[i : i + per_page] for i in range(0, len(posts), per_page)] or [()]
    paths = [paginated_path(first_path, n) for n in range(1, len(chunks) + 1)]
    urls = tuple(settings.url(p) for p in paths)
    listings = []
    for index, chunk in enumerate(chunks):
        paginator = Paginator(
            number=index + 1,
            total=len(chunks),
            prev_url=urls[index - 1] if index > 0 else None,
            next_url=urls[index + 1] if index + 1 < len(urls) else None,
            first_url=urls[0],
            last_url=urls[-1],
            urls=urls,
        )
        listings.append(Listing(kind, paths[index], chunk, paginator, tag, author))
    return listings


def _gather_tags(posts: Iterable[Post], settings: ContentSettings
                 ) -> tuple[dict[str, Tag], dict[str, list[Post]]]:
    """Tags by slug; names that slugify alike are one tag, spelled as most posts spell it."""
    spellings: dict[str, Counter[str]] = defaultdict(Counter)
    members: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        for name in post.tag_names:
            slug = slugify(name, settings.unicode_slugs) or "tag"
            spellings[slug][name] += 1
            if not members[slug] or members[slug][-1] is not post:
                members[slug].append(post)
    tags = {}
    for slug, names in spellings.items():
        name = sorted(names.items(), key=lambda item: (-item[1], item[0]))[0][0]
        tags[slug] = Tag(name=name, slug=slug, url=settings.url(tag_path(slug)),
                         abs_url=settings.abs_url(tag_path(slug)),
                         feed_url=settings.url(tag_feed_path(slug)), count=len(members[slug]))
    return tags, members


def _looks_like_id(key: str) -> bool:
    """'maria' or 'ana-lopez' looks like a profile id; 'Ana López' is a plain name."""
    return re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", key) is not None


def _author_lookup(profiles: Iterable[Author]) -> dict[str, Author]:
    lookup: dict[str, Author] = {}
    for author in profiles:
        lookup[author.id] = author
        lookup.setdefault(author.name.casefold(), author)
    return lookup


_RELATED_LEVELS = 6  # up to this many tags, related posts are found level by level


def _related(posts: tuple[Post, ...], members: Mapping[str, list[Post]], limit: int
             ) -> dict[str, tuple[Post, ...]]:
    """Posts sharing the most tags, newest first among equals.

    Counting every post of every tag is quadratic (12 s at 5,000 essays), and scoring each
    candidate with a Python key took 1-1.5 s at 10,000, so posts are taken level by level, most
    shared tags first, with set operations (in C) on positions: the posts sharing at least m of
    a post's k tags are the union of the intersections of its m-tag groups (each intersection
    computed once for the site), those sharing exactly m are that minus the level above, and
    the smallest positions of a level are the newest. Levels stop once `limit` posts are found;
    posts sharing one tag fill the rest from the tags' lists, which are newest first, merged in
    order. A post with more than _RELATED_LEVELS tags, or a tag twice, has its candidates scored
    one by one instead. The result is the same as sorting every post that shares a tag by
    (-shared tags, position).
    """
    from itertools import combinations  # local: this function's hunk is kept self-contained

    order = {post.id: index for index, post in enumerate(posts)}
    positions = {slug: [order[p.id] for p in ps] for slug, ps in members.items()}
    holders = {slug: set(ps) for slug, ps in positions.items()}
    common: dict[tuple[str, ...], set[int]] = {}  # posts holding every tag of a sorted group

    def holding(group: tuple[str, ...]) -> set[int]:
        found = common.get(group)
        if found is None:
            found = common[group] = (holders[group[0]] if len(group) == 1
                                     else holding(group[:-1]) & holders[group[-1]])
        return found

    related: dict[str, tuple[Post, ...]] = {}
    for post in posts:
        if limit == 0 or not post.tags:
            related[post.id] = ()
            continue
        slugs = [tag.slug for tag in post.tags]
        me = order[post.id]
        best: list[int] = []
        several: set[int] = set()  # posts sharing two tags or more
        ordered = sorted(set(slugs))
        if len(slugs) <= _RELATED_LEVELS and len(ordered) == len(slugs):
            for shared in range(len(slugs), 1, -1):
                at_least = set().union(*(common.get(group) or holding(group)
                                         for group in combinations(ordered, shared)))
                level = at_least - several
                level.discard(me)
                best += sorted(level)[:limit - len(best)]
                several = at_least
                if len(best) == limit:
                    break
            several.discard(me)
        else:
            sets = [holders[slug] for slug in slugs]
            for i in range(len(slugs)):
                for j in range(i + 1, len(slugs)):
                    several |= sets[i] & sets[j]
            several.discard(me)
            best = sorted(several, key=lambda pos: (-sum(pos in s for s in sets), pos))[:limit]
        if len(best) < limit:
            for index in heapq.merge(*(positions[slug] for slug in slugs)):
                if index != me and index not in several and index not in best:
                    best.append(index)
                    if len(best) == limit:
                        break
        related[post.id] = tuple(posts[index] for index in best)
    return related


def _archive(posts: tuple[Post, ...]) -> tuple[ArchiveYear, ...]:
    by_month: dict[tuple[int, int], list[Post]] = defaultdict(list)
    for post in posts:
        by_month[(post.date.year, post.date.month)].append(post)
    years: dict[int, list[ArchiveMonth]] = defaultdict(list)
    for (year, month), month_posts in sorted(by_month.items(), reverse=True):
        years[year].append(ArchiveMonth(year, month, MONTH_NAMES[month - 1], tuple(month_posts)))
    return tuple(ArchiveYear(year, sum(len(m.posts) for m in months), tuple(months))
                 for year, months in years.items())


def build_site(
    posts: Iterable[Post],
    pages: Iterable[Page],
    profiles: Iterable[Author],
    comments: Iterable[Comment],
    asset_sources: Iterable[str],
    settings: ContentSettings,
    flags: BuildFlags,
    posts_per_page: int,
    related_limit: int,
    problems: list[Problem],
    warnings: list[Problem],
) -> Site:
    """Assemble the site. Problems (errors) and warnings are appended to the lists given."""
    all_posts = list(posts)
    drafts = sum(1 for p in all_posts if p.draft and not flags.drafts)
    future = sum(1 for p in all_posts if p.future and not p.draft and not flags.future)
    published = [p for p in all_posts
                 if (flags.drafts or not p.draft) and (flags.future or not p.future)]
    published_sources = {p.source for p in published}
    left_out_list = tuple(
        (p.source, "draft" if p.draft else f"dated in the future ({p.date:%Y-%m-%d %H:%M %Z})")
        for p in all_posts if p.source not in published_sources)
    published.sort(key=_sort_key)
    pages = sorted(pages, key=lambda p: (p.weight, p.title.lower(), p.source))

    # links between sources
    asset_paths = {rel: asset_site_path(rel) for rel in asset_sources}
    targets: dict[str, str] = {rel: settings.url(path) for rel, path in asset_paths.items()}
    targets.update({p.source: p.url for p in published})
    targets.update({p.source: p.url for p in pages})
    left_out_sources = {p.source for p in all_posts} - published_sources

    def resolver(source: str) -> Callable[[str], None]:
        def on_missing(original: str) -> None:
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(source), original))
            why = ("is a draft or future post that is not published in this build"
                   if resolved.split("#")[0] in left_out_sources else "does not exist")
            warnings.append(Problem(f"the link or image '{original}' {why}", source,
                                    hint="check the file name; links to other essays look like "
                                         "[text](other-essay.md)"))
        return on_missing

    def resolve(html: str, source: str) -> Markup:
        return Markup(resolve_links(html, targets.get, settings.url, resolver(source)))

    def resolve_image(image: str | None, source: str) -> str | None:
        if image is None or image.startswith(("http://", "https://")):
            return image
        if image.startswith("/"):
            return settings.url(image)
        rel = posixpath.normpath(posixpath.join(posixpath.dirname(source), image))
        return targets.get(rel) or settings.url(asset_site_path(rel))

    # authors
    profile_list = list(profiles)
    profile_ids = sorted(a.id for a in profile_list)
    # an avatar is a URL like a post's image: it needs the base path of a site under a path
    lookup = _author_lookup(
        dataclasses.replace(a, avatar=resolve_image(a.avatar, a.source or ""))
        for a in profile_list)
    default_author = (lookup.get(settings.default_author)
                      or lookup.get(settings.default_author.casefold())
                      if settings.default_author else None)

    # tags, on the published posts
    tags, tag_members = _gather_tags(published, settings)

    # replies
    by_slug: dict[str, list[Comment]] = defaultdict(list)
    for comment in comments:
        by_slug[comment.post_slug].append(comment)
    post_slugs = {p.slug for p in all_posts}
    for slug, replies in sorted(by_slug.items()):
        if slug not in post_slugs:
            warnings.append(Problem(
                f"replies in content/comments/{slug}/ belong to no post with the slug '{slug}'",
                replies[0].source, hint="name the folder after the post's slug"))

    pending: list[tuple[Post, dict[str, Any], list[Author]]] = []
    author_posts: dict[str, list[Post]] = defaultdict(list)
    authors_by_id: dict[str, Author] = {}
    comments_by_post: dict[str, tuple[Comment, ...]] = {}
    for post in published:
        post_authors = []
        for key in post.author_keys:
            author = lookup.get(key) or lookup.get(key.casefold())
            if author is None and profile_ids and _looks_like_id(key):
                problems.append(Problem(
                    f"'author': there is no author profile '{key}'", post.source, post.author_line,
                    hint=f"known author ids: {', '.join(profile_ids)} (a profile is "
                         f"content/authors/{key}.md; a plain name needs a capital or a space)"))
            if author is None:
                author = authors_by_id.get(slugify(key, settings.unicode_slugs)) or plain_author(
                    key, settings)
            if author not in post_authors:
                post_authors.append(author)
        replies = sorted(by_slug.get(post.slug, []), key=lambda c: (c.date, c.source))
        replies = [dataclasses.replace(c, id=f"reply-{i}") for i, c in enumerate(replies, 1)]
        comments_by_post[post.id] = tuple(replies)
        seen_tags = list(dict.fromkeys(
            tags[slugify(n, settings.unicode_slugs) or "tag"] for n in post.tag_names))
        resolve("".join(post.links), post.source)  # the body stays unloaded: only warn
        pending.append((post, {
            "summary": resolve(post.summary, post.source),
            "image": resolve_image(post.image, post.source),
            "tags": tuple(seen_tags),
            "comment_count": len(replies),
        }, post_authors))
        for author in post_authors:
            authors_by_id.setdefault(author.id, author)
            author_posts[author.id].append(post)

    # authors with their counts; each post made once, pointing at the counted authors
    counted = {aid: dataclasses.replace(a, post_count=len(author_posts[aid]))
               for aid, a in authors_by_id.items()}
    final_posts = tuple(
        dataclasses.replace(post, authors=tuple(counted[a.id] for a in post_authors), **fields)
        for post, fields, post_authors in pending)
    by_id = {p.id: p for p in final_posts}
    posts_by_author = {aid: tuple(by_id[p.id] for p in ps) for aid, ps in author_posts.items()}
    posts_by_tag = {slug: tuple(by_id[p.id] for p in ps) for slug, ps in tag_members.items()}
    resolved_pages = tuple(
        dataclasses.replace(page, content=resolve(page.content, page.source),
                            image=resolve_image(page.image, page.source))
        for page in pages)

    neighbours = {
        post.id: (final_posts[i - 1] if i > 0 else None,
                  final_posts[i + 1] if i + 1 < len(final_posts) else None)
        for i, post in enumerate(final_posts)
    }
    related = _related(final_posts, {s: list(ps) for s, ps in posts_by_tag.items()},
                       related_limit)

    sorted_tags = tuple(sorted(tags.values(), key=lambda t: (t.name.casefold(), t.slug)))
    sorted_authors = tuple(sorted(counted.values(), key=lambda a: (a.name.casefold(), a.id)))
    listings = paginate(final_posts, posts_per_page, HOME_PATH, "home", settings)
    for tag in sorted_tags:
        listings += paginate(posts_by_tag[tag.slug], posts_per_page, tag_path(tag.slug), "tag",
                             settings, tag=tag)
    for author in sorted_authors:
        listings += paginate(posts_by_author[author.id], posts_per_page,
                             f"{AUTHORS_PATH}{author.id}/", "author", settings, author=author)

    aliased: list[Post | Page] = [*final_posts, *resolved_pages]
    redirects = [Redirect(alias, item.abs_url, item.source)
                 for item in aliased for alias in item.aliases]

    site = Site(
        posts=final_posts,
        pages=resolved_pages,
        tags=sorted_tags,
        authors=sorted_authors,
        posts_by_tag=posts_by_tag,
        posts_by_author=posts_by_author,
        neighbours=neighbours,
        related=related,
        comments=comments_by_post,
        listings=tuple(listings),
        archive=_archive(final_posts),
        redirects=tuple(redirects),
        asset_paths=asset_paths,
        left_out=LeftOut(drafts, future, left_out_list),
        default_author=counted.get(default_author.id, default_author) if default_author else None,
        link_targets=targets,
    )
    problems.extend(find_collisions(site))
    return site


RESERVED = {
    HOME_PATH: "the home page", ARCHIVE_PATH: "the archive", TAGS_PATH: "the tag index",
    AUTHORS_PATH: "the author index", "/feed.xml": "the RSS feed", "/atom.xml": "the Atom feed",
    "/sitemap.xml": "the sitemap", "/robots.txt": "robots.txt", "/404.html": "the 404 page",
}


def find_collisions(site: Site) -> list[Problem]:
    """Two things that would write the same output file."""
    owners: dict[str, str] = {output_file(path): what for path, what in RESERVED.items()}
    for listing in site.listings:
        if listing.kind != "home" or listing.paginator.number > 1:
            owners.setdefault(output_file(listing.path), f"the listing {listing.path}")
    problems = []

    def claim(path: str, owner: str, source: str) -> None:
        key = output_file(path)
        if key in owners:
            problems.append(Problem(
                f"{owner} would be written to {key}, which {owners[key]} also writes", source,
                hint="give one of them another 'slug' (or rename the file)"))
        else:
            owners[key] = f"{owner} ({source})" if owner != source else source

    for post in site.posts:
        claim(post.path, post.source, post.source)
    for page in site.pages:
        claim(page.path, page.source, page.source)
    for redirect in site.redirects:
        claim(redirect.path, f"the alias {redirect.path} in {redirect.source}", redirect.source)
    for rel, path in site.asset_paths.items():
        claim(path, rel, rel)
    return problems
