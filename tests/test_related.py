"""Related essays: the fast selection gives exactly what sorting every candidate gives."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from csblog.site_model import _related


@dataclass(frozen=True)
class FakeTag:
    slug: str


@dataclass(frozen=True)
class FakePost:
    id: str
    tags: tuple[FakeTag, ...]


def reference(posts: tuple[FakePost, ...], members: dict[str, list[FakePost]], limit: int
              ) -> dict[str, tuple[FakePost, ...]]:
    """The definition: every post sharing a tag, by (-shared tags, position), the first `limit`."""
    order = {p.id: i for i, p in enumerate(posts)}
    result = {}
    for post in posts:
        shared: Counter[str] = Counter()
        for tag in post.tags:
            for other in members[tag.slug]:
                if other.id != post.id:
                    shared[other.id] += 1
        best = sorted(shared, key=lambda pid: (-shared[pid], order[pid]))[:limit]
        result[post.id] = tuple(posts[order[pid]] for pid in best) if limit else ()
    return result


def test_related_posts_match_the_definition() -> None:
    rng = random.Random(5)
    for _ in range(30):
        tags = [FakeTag(f"t{n}") for n in range(rng.randint(1, 8))]
        posts = tuple(FakePost(f"p{n}", tuple(rng.sample(tags, rng.randint(0, min(4, len(tags))))))
                      for n in range(rng.randint(1, 60)))
        members: dict[str, list[FakePost]] = {t.slug: [] for t in tags}
        for post in posts:
            for tag in post.tags:
                members[tag.slug].append(post)
        for limit in (0, 1, 3, 10):
            assert _related(posts, members, limit) == reference(posts, members, limit)  # type: ignore[arg-type]


def test_many_tags_and_repeated_tag_sets_match_the_definition() -> None:
    """Up to 6 tags go level by level, more are scored one by one; equal sets in any order."""
    rng = random.Random(11)
    for _ in range(12):
        tags = [FakeTag(f"t{n}") for n in range(rng.randint(4, 14))]
        shapes = [tuple(rng.sample(tags, rng.randint(1, min(6, len(tags))))) for _ in range(4)]
        posts = []
        for n in range(rng.randint(20, 120)):
            roll = rng.random()
            if roll < 0.1:
                chosen: tuple[FakeTag, ...] = ()
            elif roll < 0.5:
                shape = rng.choice(shapes)
                chosen = tuple(rng.sample(shape, len(shape)))
            else:
                chosen = tuple(rng.sample(tags, rng.randint(1, len(tags))))
            posts.append(FakePost(f"p{n}", chosen))
        members: dict[str, list[FakePost]] = {t.slug: [] for t in tags}
        for post in posts:
            for tag in post.tags:
                members[tag.slug].append(post)
        for limit in (1, 3, 5):
            assert _related(tuple(posts), members, limit) == reference(  # type: ignore[arg-type]
                tuple(posts), members, limit)
