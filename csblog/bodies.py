"""Essays' HTML bodies, kept out of memory until a page shows them.

Ten thousand essays are about 100 MB of HTML; the site model needs none of it (titles, dates,
tags and summaries are enough to order, list and relate essays), and a build renders each body
into one page and perhaps a feed. So a `Post` holds a `LazyHtml`: the name of its source. The
build installs a `BodyStore` that knows where the body of each source is (the parse cache, or
memory when there is no cache) and how to resolve its links; the HTML is fetched when a
template or a feed asks for it, and not kept.

A `LazyHtml` stands in a template wherever the HTML did: `{{ post.content }}` prints it
unescaped (it has `__html__`), and filters that take text get it through `str()`.
"""

from __future__ import annotations

import contextlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping

from markupsafe import Markup

_RECENT = 64  # bodies kept after use: a post page and the feeds often show the same essays


class BodyStore:
    """Where the bodies of this build's sources are.

    `keys` maps a source to the key of its body; `fetch(key)` returns the body's HTML with link
    placeholders (it may be called in a forked process: it must open what it reads itself);
    `resolve(html, source)` turns the placeholders into URLs. `words` are the bodies' word
    counts, which change with every edit of a body as its key does (so they are not part of
    the site model either).

    While `reading()` is active the store notes every source whose body or word count is asked
    for: what a page showed of the bodies, so that a later build knows which body edits change
    that page (see cache.PagePlan).
    """

    def __init__(self, keys: Mapping[str, str], fetch: Callable[[str], str],
                 resolve: Callable[[str, str], str],
                 words: Mapping[str, int] | None = None) -> None:
        self.keys = dict(keys)
        self.words = dict(words or {})  # source -> the body's word count
        self._fetch = fetch
        self._resolve = resolve
        self._recent: OrderedDict[str, Markup] = OrderedDict()
        self._reads: set[str] | None = None

    def key(self, source: str) -> str:
        return self.keys.get(source, "")

    @contextlib.contextmanager
    def reading(self) -> Iterator[set[str]]:
        """Note the sources whose body or word count is asked for inside the block."""
        outer, self._reads = self._reads, set()
        try:
            yield self._reads
        finally:
            if outer is not None:
                outer.update(self._reads)
            self._reads = outer

    def word_count(self, source: str) -> int:
        if self._reads is not None:
            self._reads.add(source)
        return self.words[source]

    def html(self, source: str) -> Markup:
        if self._reads is not None:
            self._reads.add(source)
        found = self._recent.get(source)
        if found is None:
            raw = self._fetch(self.keys[source])
            found = Markup(self._resolve(raw, source))
            self._recent[source] = found
            if len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
        else:
            self._recent.move_to_end(source)
        return found


_current: BodyStore | None = None


def use_store(store: BodyStore) -> None:
    """Install the store that `LazyHtml` reads from (one build at a time per process)."""
    global _current
    _current = store


def current_store() -> BodyStore:
    if _current is None:
        raise RuntimeError("no body store: the site was not loaded by csblog.build")
    return _current


class LazyHtml:
    """The HTML body of one source, fetched from the current `BodyStore` when shown."""

    __slots__ = ("source", "empty")

    def __init__(self, source: str, empty: bool = False) -> None:
        self.source = source
        self.empty = empty

    def __html__(self) -> Markup:
        return current_store().html(self.source)

    def __str__(self) -> str:
        return str(self.__html__())

    def __bool__(self) -> bool:
        return not self.empty

    def __repr__(self) -> str:
        # what a page's dependency key sees: the source, not the HTML (the body's own key is
        # added by whoever computes page keys, from the store)
        # (an empty body shows differently in `{% if post.content %}`: that is in it too)
        empty = ", empty=True" if self.empty else ""
        return f"LazyHtml({self.source!r}{empty})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyHtml) and other.source == self.source

    def __hash__(self) -> int:
        return hash(self.source)

    def __reduce__(self) -> tuple[type[LazyHtml], tuple[str, bool]]:
        return LazyHtml, (self.source, self.empty)


_LINK = re.compile(r'(?:href|src)="csblog:(?:src|site):[^"]*"')


def body_links(html: str) -> tuple[str, ...]:
    """The links of a body still to be resolved, as the attributes that hold them.

    Kept on the `Post`, so that the site model can warn about a broken link without the body.
    """
    return tuple(_LINK.findall(html)) if "csblog:" in html else ()
