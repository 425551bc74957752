"""The Markdown stage's fast paths change nothing: the same text gives the same result as stock
Python-Markdown, byte for byte, and every "cannot match without this text" rule is true."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csblog import markdown_rendering
from csblog.config import MarkdownConfig
from csblog.errors import ContentError
from csblog.markdown_rendering import MarkdownRenderer

FAST = MarkdownRenderer(MarkdownConfig())


def _stock_renderer() -> MarkdownRenderer:
    original = markdown_rendering._speed_up
    markdown_rendering._speed_up = lambda md: None
    try:
        return MarkdownRenderer(MarkdownConfig(), direct=False)
    finally:
        markdown_rendering._speed_up = original


STOCK = _stock_renderer()
# Pygments loads its plugin lexers the first time a language is not found, and a plugin may
# import IPython, which changes the recursion limit: do that now, not while hypothesis watches.
for _renderer in (FAST, STOCK):
    _renderer.render("```nosuchlanguage\nx\n```", "content/posts/x.md")

# the characters Markdown and its extensions give a meaning to, and a few plain ones
MARKUP = st.text(alphabet="*_`\\[]()!<>@&;#:'\"-.=^~|{}+ \n\t\x02\x03ab1s’–—", max_size=120)
WORDS = st.lists(st.sampled_from([
    "word", "it's", "'90s", '"quoted"', "'single'", "--", "---", "...", "*em*", "**strong**",
    "_u_", "__uu__", "***both***", "`code`", "``co`de``", "\\*", "[link](x.md)", "[ref][r]",
    "![img](a.png)", "[^1]", "<b>", "</b>", "<https://example.org>", "<a@b.org>", "&amp;",
    "&#8212;", "&nbsp;", "{: #id }", "*[HTML]: Hyper", "[r]: /x", "[^1]: note", "> ", "# ",
    "## h", "===", "- ", "1. ", "Term\n: def", "    code", "```\nx\n```", "| a | b |\n|---|---|",
    "  \n", "\n", "\n\n", " ", "<!-- more -->", "<div markdown=\"1\">", "</div>",
]), max_size=40).map("".join)


def _render(renderer: MarkdownRenderer, text: str) -> object:
    try:
        return renderer.render(text, "content/posts/x.md")
    except ContentError as exc:
        return ("error", str(exc))


def _assert_same(text: str) -> None:
    assert _render(FAST, text) == _render(STOCK, text), text


SAMPLES = [
    "It's a \"quote\" -- and 'another' --- with... the '90s and 'tis.",
    "*em* **strong** ***both*** _u_ __uu__ *a **b** c* **a *b* c** a*b*c a_b_c",
    "[link](other.md#frag) ![img](pic.png \"t\") [ref][r] [r] <https://x.org> <a@b.org>\n\n"
    "[r]: /somewhere \"Title\"",
    "Text[^1] and more[^2].\n\n[^1]: One.\n[^2]: Two\n    continued.",
    "*[HTML]: Hyper Text\n\nSome HTML here.",
    "Heading\n=======\n\nSub\n---\n\n# Hash\n\n## Two ##\n\n***\n\n- - -\n\n___",
    "Term\n: Definition\n\n> quote\n> > nested\n\n1. one\n2. two\n\n* a\n* b",
    "`code with 'quotes' and *stars*` and \\`escaped\\` and \\*not em\\*",
    "<span>inline *html*</span> &amp; &copy; &#169; &#xA9; a & b; c",
    "line one  \nline two\n\n```python\nx = 'y'\n```\n\n    indented",
    "| a | b |\n|---|:-:|\n| 'c' | *d* |\n\nPara {: #custom .cls }",
    "Before <!-- more --> after",
    "\x02wzxhzdk:0\x03 and \x02klzzwxh:0000\x03 placeholders typed by hand",
    "\"'Nested' quotes\" and '\"other\" way' and \"\" and ''",
    "a--b a---b a----b a...b a....b -- --- ... 'x' \"y\"",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_samples_render_as_stock_markdown_does(text: str) -> None:
    _assert_same(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKUP)
def test_arbitrary_markup_renders_as_stock_markdown_does(text: str) -> None:
    _assert_same(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(WORDS)
def test_arbitrary_constructs_render_as_stock_markdown_does(text: str) -> None:
    _assert_same(text)


def _inline_rules() -> list[tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]]:
    rules = []
    for processor in FAST._md.treeprocessors:
        if isinstance(processor, markdown_rendering._FastInlineProcessor):
            table = markdown_rendering._PatternTable(list(processor.inlinePatterns))
            pairs = zip(table.regexes, table.requirements, strict=True)
            rules += [(regex, req) for regex, req in pairs if regex is not None and req is not None]
    return rules


def _block_rules() -> list[tuple[re.Pattern[str], tuple[tuple[str, ...], ...]]]:
    rules = []
    for processor in FAST._md.parser.blockprocessors:
        cls = type(processor)
        for (name, attr, source), groups in markdown_rendering._BLOCK_GUARDS.items():
            if f"{cls.__module__}.{cls.__qualname__}" == name:
                regex = getattr(processor, attr)
                assert regex.pattern == source  # else the guard was silently not installed
                rules.append((regex, groups))
    return rules


INLINE_RULES = _inline_rules()
BLOCK_RULES = _block_rules()


def test_the_configured_patterns_all_have_a_rule() -> None:
    # every inline pattern of the default extensions is skipped when it cannot match, and every
    # guarded block processor was found
    inline = [p for proc in FAST._md.treeprocessors
              if isinstance(proc, markdown_rendering._FastInlineProcessor)
              for p in proc.inlinePatterns]
    assert len(INLINE_RULES) == len(inline)
    assert len(BLOCK_RULES) == len(markdown_rendering._BLOCK_GUARDS)


@settings(max_examples=500, deadline=None)
@given(st.one_of(MARKUP, WORDS))
def test_no_regex_matches_without_its_required_text(text: str) -> None:
    # a search from 0 tries every position a search from a later start would (lookbehinds and
    # `^` see the whole string either way), and every match() start
    for regex, groups in INLINE_RULES + BLOCK_RULES:
        if regex.search(text) is not None:
            assert all(any(t in text for t in group) for group in groups), (regex.pattern, text)
