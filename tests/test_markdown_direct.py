"""The direct renderer gives Python-Markdown's output byte for byte, and is used for essays.

Essays are built from the constructs it handles (and near-misses it must hand back), rendered
with it and with Python-Markdown alone, and compared field by field.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csblog import markdown_direct
from csblog.config import MarkdownConfig
from csblog.markdown_rendering import MarkdownRenderer
from csblog.posts import split_front_matter

REPO = Path(__file__).resolve().parent.parent
DIRECT = MarkdownRenderer(MarkdownConfig())
STOCK = MarkdownRenderer(MarkdownConfig(), direct=False)

WORDS = ["service", "counter", "it's", "don't", "manager's", "'90s", "the", "a", "queue",
         "1990s", "Q&A", "B&B", "5 > 4", "wait...", "well--known", "pay---or not", "'quoted'",
         '"double"', '"a \'nested\' one"', "rock 'n' roll", "(aside)", "end.", "why?", "#5",
         "20%", "café", "naïve", "—", "–", "’"]
INLINE = ["*em*", "**strong**", "`code`", "`a < b & c`", "[a link](other.md)",
          "[a link](/about/)", "[site](https://example.org/x?a=1&b=2)", "[*em link*](x.md)",
          "![a chair](chair.jpg)", "*see [this](x.md)*", "**`code` inside**", "*it's*",
          "*\"quoted\"*", "_em_", "__strong__", "_it's_", "[_em link_](x.md)"]


def _sentence(rng: random.Random) -> str:
    parts = [rng.choice(WORDS if rng.random() < 0.8 else INLINE)
             for _ in range(rng.randint(1, 12))]
    return " ".join(parts)


def _block(rng: random.Random) -> str:
    kind = rng.choice(["p", "p", "p", "h", "ul", "ol", "quote", "table", "code", "lazy",
                       "more"])
    if kind == "more":
        return "<!-- more -->"
    if kind == "h":
        return "#" * rng.randint(1, 6) + " " + _sentence(rng)
    if kind == "ul":
        marker = rng.choice("-*+")
        return "\n".join(f"{marker} {_sentence(rng)}" for _ in range(rng.randint(1, 4)))
    if kind == "ol":
        first = rng.choice([1, 1, 3])
        return "\n".join(f"{first + i}. {_sentence(rng)}" for i in range(rng.randint(1, 4)))
    if kind == "quote":
        lines = [f"> {_sentence(rng)}"]
        if rng.random() < 0.5:
            lines += [">", f"> — {_sentence(rng)}"]
        return "\n".join(lines)
    if kind == "table":
        header = "| " + " | ".join(rng.choice(WORDS) for _ in range(3)) + " |"
        sep = "|" + "|".join(rng.choice(["---", ":--", "--:", ":-:"]) for _ in range(3)) + "|"
        rows = ["| " + " | ".join(rng.choice(WORDS + INLINE[:2] + [""]) for _ in range(3)) + " |"
                for _ in range(rng.randint(1, 3))]
        return "\n".join([header, sep, *rows])
    if kind == "code":
        lang = rng.choice(["python", "", "text"])
        return f"```{lang}\ndef f(x):\n    return x < 2 and 'a' & \"b\"\n```"
    if kind == "lazy":  # a heading straight after a paragraph, or a paragraph of two lines
        return f"{_sentence(rng)}\n" + rng.choice(["## ", "", "and "]) + _sentence(rng)
    return _sentence(rng)


def _essay(rng: random.Random) -> str:
    blocks = [_sentence(rng)] + [_block(rng) for _ in range(rng.randint(1, 10))]
    return "\n\n".join(blocks) + "\n"


def _assert_same(text: str) -> None:
    direct = DIRECT.render(text, "content/posts/x.md")
    stock = STOCK.render(text, "content/posts/x.md")
    assert direct == stock, text


def test_generated_essays_are_rendered_directly_and_identically() -> None:
    rng = random.Random(5)
    used = 0
    for _ in range(400):
        text = _essay(rng)
        _assert_same(text)
        DIRECT._md.reset()
        used += DIRECT._direct is not None and DIRECT._direct.render(text, str) is not None
    # the shortcut is taken for most essays built from what it handles (not just handed back)
    assert used >= 300


def test_the_sample_essays_render_identically() -> None:
    texts = [split_front_matter(path.read_text(encoding="utf-8"), str(path)).body
             for path in sorted((REPO / "content").rglob("*.md"))]
    assert len(texts) >= 10
    for text in texts:
        _assert_same(text)


@pytest.mark.parametrize("text", [
    "Intro & more.\n\n<!-- more -->\n\n```python\nx = 1\n```\n\nAfter.",
    "It's _the_ __manager's__ shrug -- and *more*... \"Fine,\" she said.",
    "## Why 'no' matters\n\nText with `a < b` and [a link](x.md).\n\n## Why 'no' matters",
    "> A quote.\n>\n> — Someone\n\n1. one\n2. two\n\n- a\n- b",
    "| a | b |\n|:--|--:|\n| *c* | [d](e.md) |\n| f |",
    "![A chair](chair.jpg)\n\nQ&A at the B&B, 5 > 4.",
])
def test_common_constructs_are_rendered_directly(text: str) -> None:
    DIRECT._md.reset()
    assert DIRECT._direct is not None
    assert DIRECT._direct.render(text, str) is not None
    _assert_same(text)


@pytest.mark.parametrize("text", [
    "Plain <b>html</b>.", "A footnote[^1].\n\n[^1]: Note.", "Term\n: Definition",
    "- a\n\n- b", "- a\n  more", "1. a\n- b", "    indented code", "a\\*b", "snake_case",
    "## Heading {#custom}", "[ref][r]\n\n[r]: /x", "***both***", "**a *b* c**", "a*b*c",
    "***", "Title\n=====", "Title\n---", "x | y", "> a\nlazy", "<!-- more -->", "&amp; &copy;",
    "| a |\n|---|\n| b |", "`` a ` b ``", "*unclosed", "[TOC]", "```\nunclosed fence",
    "```python hl_lines=\"1\"\nx\n```", "# A #1 heading", "para\n> quote", "x  \ny",
    "a &#3 b", "p\n\n<div>\nx\n</div>", "p <!-- inline --> q", "p\n\xa0<!-- x -->",
])
def test_what_it_hands_back_is_still_rendered_identically(text: str) -> None:
    DIRECT._md.reset()
    assert DIRECT._direct is not None
    assert DIRECT._direct.render(text, str) is None
    _assert_same(text)


PIECES = st.sampled_from(WORDS + INLINE + [
    " ", "\n", "\n\n", "> ", ">", "# ", "## ", "- ", "* ", "1. ", "2. ", "| ", " |", "|---|",
    "*", "**", "`", "[", "]", "(", ")", "!", "'", '"', "--", "...", "-", ":", "#", "```",
    "```python\nx = 1\n```", "   ", "&", ">>", "1.", "+", "x*y", "<", "<b>", "`<b>`",
    "\xa0", "\n\n\xa0", "3. \xa0x", "- \xa0", "_", "__", "snake_case", "\n\n<!-- more -->\n\n",
    "<!-- x -->", "\n<!-- more -->\n", "<div>", "\n\n<div>\nx\n</div>\n\n",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=40).map("".join))
def test_arbitrary_mixtures_render_identically(text: str) -> None:
    _assert_same(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=10**6))
def test_random_essays_render_identically(seed: int) -> None:
    _assert_same(_essay(random.Random(seed)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab_1 \n\t'’-–.é\u0301\u00a0", max_size=60))
def test_the_word_count_shortcut_counts_as_the_regex_does(text: str) -> None:
    assert markdown_direct._count_words(text) == len(markdown_direct._WORD.findall(text))
