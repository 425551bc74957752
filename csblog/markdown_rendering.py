"""Markdown text -> HTML, table of contents, summary and word count.

One configured Python-Markdown instance per process, reset between documents. Links are left as
placeholders that `resolve_links` turns into URLs once every source's URL is known, so that this
stage depends only on the text and the Markdown settings (which makes it cacheable).
"""

from __future__ import annotations

import html as html_module
import importlib
import posixpath
import re
import xml.etree.ElementTree as ET
from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import markdown
from markdown import inlinepatterns
from markdown.extensions import Extension
from markdown.treeprocessors import InlineProcessor, Treeprocessor
from markdown.util import AMP_SUBSTITUTE, HTML_PLACEHOLDER_RE, AtomicString

from csblog.config import DEFAULT_EXTENSIONS, MarkdownConfig
from csblog.errors import ConfigError, ContentError
from csblog.markdown_direct import DirectRenderer
from csblog.urls import slugify

MORE_MARKER = "<!-- more -->"
# A link to another source file or to a site path, resolved after every URL is known.
SOURCE_LINK = "csblog:src:"
SITE_LINK = "csblog:site:"
_SUMMARY_ATTR = "data-csblog-summary"
_WORD = re.compile(r"\w+(?:['’\-]\w+)*")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*:")
_HEADING_LINK = re.compile(r'<a class="toclink" href="[^"]*">(.*?)</a>', re.DOTALL)
_FOOTNOTE_REF = re.compile(r'<sup id="fnref[^"]*">.*?</sup>')
_TAG = re.compile(r"<[^>]*>")
_ID_ATTR = re.compile(r' id="[^"]*"')
_PLACEHOLDER_ATTR = re.compile(r'(href|src)="(csblog:(?:src|site):)([^"]*)"')
_FORMATTERS: dict[str, Any] = {}  # Pygments HTML formatters, by their options


def _html_formatter(lang_str: str = "", **options: Any) -> Any:
    """Pygments' HTML formatter for these options, made once, not once per code block.

    Making one builds its style's stylesheet: about 0.4 ms, as long as highlighting a short
    block. (codehilite passes `lang_str` to a formatter given this way; Pygments' own HTML
    formatter, which codehilite makes by name otherwise, ignores it.)
    """
    key = repr(sorted(options.items()))
    formatter = _FORMATTERS.get(key)
    if formatter is None:
        from pygments.formatters import get_formatter_by_name
        formatter = _FORMATTERS[key] = get_formatter_by_name("html", **options)
    return formatter


DEFAULT_EXTENSION_CONFIGS: dict[str, dict[str, Any]] = {
    # the heading's own text links to its section: its accessible name stays the heading's
    "toc": {"anchorlink": True, "slugify": None},
    "codehilite": {"css_class": "highlight", "guess_lang": False,
                   "pygments_formatter": _html_formatter},
}


@dataclass(frozen=True)
class RenderedMarkdown:
    """What the Markdown stage produces for one document."""

    html: str
    toc: str  # the table of contents as a <ul>, or "" when there are no headings
    heading_count: int
    summary: str  # text before <!-- more -->, else the first paragraph (HTML)
    word_count: int


def _heading_slug(value: str, separator: str) -> str:
    return slugify(value) or "section"


class _LinkAndSummaryProcessor(Treeprocessor):
    """Marks links for later resolution, counts words and marks the first paragraph."""

    source_dir = ""  # posix path of the source file's folder, relative to the site
    word_count = 0

    def run(self, root: ET.Element) -> None:
        for element in root.iter():
            for attr in ("href", "src"):
                value = element.get(attr)
                if value is not None:
                    element.set(attr, self._mark(value))
            if element.tag == "img":
                element.set("loading", "lazy")
                element.set("decoding", "async")
        # smarty's quotes and dashes (and inline HTML) are still placeholders here: count what
        # they stand for, not the placeholder ("It's" is one word, not "It wzxhzdk 0 s")
        text = HTML_PLACEHOLDER_RE.sub(self._unstash, " ".join(root.itertext()))
        self.word_count = len(_WORD.findall(text))
        for child in root:
            if child.tag == "p":
                child.set(_SUMMARY_ATTR, "1")
                break

    def _unstash(self, match: re.Match[str]) -> str:
        blocks = self.md.htmlStash.rawHtmlBlocks
        index = int(match.group(1))
        raw = str(blocks[index]) if index < len(blocks) else ""
        return html_module.unescape(_TAG.sub(" ", raw))

    def _mark(self, url: str) -> str:
        if not url or url.startswith(("#", "//", "?", AMP_SUBSTITUTE, "&")) or _SCHEME.match(url):
            return url  # fragments, other sites, and automail's entity-encoded mailto: links
        if url.startswith("/"):
            return SITE_LINK + url
        path, sep, fragment = url.partition("#")
        resolved = posixpath.normpath(posixpath.join(self.source_dir, path))
        return SOURCE_LINK + resolved + sep + fragment + "::" + url


class _CsblogExtension(Extension):
    def __init__(self) -> None:
        super().__init__()
        self.processor: _LinkAndSummaryProcessor | None = None

    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802 (Markdown's API)
        self.processor = _LinkAndSummaryProcessor(md)
        # after toc (5) has given headings their ids, before unescape (0)
        md.treeprocessors.register(self.processor, "csblog_links", 1)


# Text that every match of an inline pattern must contain, by the pattern's regex source. Most
# text nodes contain none of them, and `in` is far cheaper than a regex search with lookbehinds:
# smarty's twenty patterns alone were a third of the Markdown time. A regex not listed here (a
# new Markdown version, another extension) is searched as before, so output never changes.
_REQUIRED_TEXT: dict[str, tuple[str, ...]] = {
    '(?:(?<!\\\\)((?:\\\\{2})+)(?=`+)|(?<!\\\\)`)': ('`',),
    '\\\\(.)': ('\\',),
    '\\[\\^([^\\]]*)\\]': ('[^',),
    '(?<!\\!)\\[': ('[',),
    '\\!\\[': ('![',),
    '<([A-Za-z][A-Za-z0-9+.-]*://[^<>]*)>': ('<', '>'),
    '<([^<> !]+@[^@<> ]+)>': ('<', '>', '@'),
    '  \\n': ('  \n',),
    '(&(?:\\#[0-9]+|\\#x[0-9a-fA-F]+|[a-zA-Z0-9]+);)': ('&', ';'),
    # inline HTML
    ('(<(\\/?+[a-zA-Z][^\\s"\'<>@]*+(?:\\s+[^\\s"\'=<>]++(?:\\s*+=\\s*+(?:"[^"]*+"|\'[^\']*+\'|[^'
     '\\s"\'=<>]++))?+)*+\\s*+/?|!--(?:(?!<!--|-->).)*--|[?](?:(?!<[?]|[?]>).)*[?]|!\\[CDA'
     'TA\\[(?:(?!<!\\[CDATA\\[|\\]\\]>).)*\\]\\])>)'): ('<', '>'),
    # smarty
    '(?<!-)---(?!-)': ('---',),
    '(?<!-)--(?!-)': ('--',),
    '^\'(?=[!"#\\$\\%\'()*+,-.\\/:;<=>?\\@\\[\\\\\\]\\^_`{|}~]\\B)': ("'",),
    '^"(?=[!"#\\$\\%\'()*+,-.\\/:;<=>?\\@\\[\\\\\\]\\^_`{|}~]\\B)': ('"',),
    '"\'(?=\\w)': ('"\'',),
    '\'"(?=\\w)': ('\'"',),
    '(?<=[^\\ \\t\\r\\n\\[\\{\\(\\-\\u0002\\u0003])\\\'"': ('\'"',),
    '(?<=[^\\ \\t\\r\\n\\[\\{\\(\\-\\u0002\\u0003])\\"\'': ('"\'',),
    "(?<!\\w)'(?=\\d{2}s)": ("'",),
    "(\\s|&nbsp;|--|–|—|&[mn]dash;|&#8211;|&#8212;)'(?=\\w)": ("'",),
    "(?<=[^\\ \\t\\r\\n\\[\\{\\(\\-\\u0002\\u0003])'(?!\\s|s\\b|\\d)": ("'",),
    "'(\\s|s\\b)": ("'",),
    "'": ("'",),
    '(\\s|&nbsp;|--|–|—|&[mn]dash;|&#8211;|&#8212;)"(?=\\w)': ('"',),
    '"(?=\\s)': ('"',),
    '(?<=[^\\ \\t\\r\\n\\[\\{\\(\\-\\u0002\\u0003])"': ('"',),
    '"': ('"',),
    '(?<!\\.)\\.{3}(?!\\.)': ('...',),
}

# Python-Markdown before 3.10 matched emphasis with one pattern per delimiter character
_REQUIRED_TEXT.update({"\\*": ("*",), "_": ("_",)})

_DelimiterProcessor = getattr(inlinepatterns, "DelimiterProcessor", None)


def _requirement(pattern: inlinepatterns.Pattern,
                 regex: re.Pattern[str]) -> tuple[tuple[str, ...], ...] | None:
    """What `regex` cannot match without: groups of text, each needing one of its members.

    None means unknown: the pattern is always searched. `in` is case-sensitive, so a regex that
    ignores case never gets a requirement.
    """
    if regex.flags & re.IGNORECASE:
        return None
    if regex.pattern in _REQUIRED_TEXT:
        return tuple((text,) for text in _REQUIRED_TEXT[regex.pattern])
    # Emphasis (Markdown 3.10+): one processor for every delimiter character, whose regex is
    # exactly the alternation of those characters, so a match is one of them.
    tokens = getattr(pattern, "tokens", None)
    if (_DelimiterProcessor is not None and isinstance(pattern, _DelimiterProcessor) and tokens
            and all(isinstance(t, str) and t for t in tokens)
            and regex.pattern == "|".join(re.escape(t) for t in tokens)):
        return (tuple(tokens),)
    return None


class _PatternTable:
    """The inline patterns of one InlineProcessor, with what each needs to match.

    `candidates(data)` lists, in order, the indices of the patterns that could match `data`: all
    patterns without a known requirement, and those whose required text `data` contains. It
    only depends on which of the (few) required texts occur in `data`, so it is computed once per
    combination and looked up by it afterwards.
    """

    def __init__(self, patterns: list[inlinepatterns.Pattern]) -> None:
        self.key = self.key_of(patterns)
        self.patterns = tuple(patterns)
        self.regexes: tuple[re.Pattern[str] | None, ...] = tuple(
            p.getCompiledRegExp() if isinstance(p, inlinepatterns.InlineProcessor) else None
            for p in patterns)
        self.requirements = tuple(
            _requirement(p, r) if r is not None else None
            for p, r in zip(patterns, self.regexes, strict=True))
        self.texts = tuple(sorted({text for req in self.requirements if req
                                   for group in req for text in group}))
        self._by_present: dict[frozenset[str], tuple[int, ...]] = {}

    @staticmethod
    def key_of(patterns: Any) -> tuple[tuple[int, int], ...]:
        """Identity of the registered patterns and their regexes: a change rebuilds the table.

        (The table holds both, so an id here cannot be reused by a new object while it lives.)
        """
        return tuple((id(p), id(p.getCompiledRegExp())) for p in patterns)

    def candidates(self, data: str) -> tuple[int, ...]:
        present = frozenset([text for text in self.texts if text in data])
        found = self._by_present.get(present)
        if found is None:
            found = tuple(
                index for index, req in enumerate(self.requirements)
                if req is None or all(not present.isdisjoint(group) for group in req))
            self._by_present[present] = found
        return found


class _FastInlineProcessor(InlineProcessor):
    """Python-Markdown's inline pass, skipping the patterns that cannot match the text.

    Markdown tries every inline pattern on every text node through a Python-level call; a pattern
    whose regex finds nothing returns the text unchanged and the loop moves on (with the search
    restarting at 0). Here the loop visits only the patterns that can match (their required text
    occurs in the current text), checks with one C-level regex search that they do, and skips the
    others exactly as a failed match would be skipped, which gives the same tree in far less time.
    """

    _table: _PatternTable | None = None

    def run(self, tree: ET.Element, ancestors: list[str] | None = None) -> ET.Element:
        # The registry cannot change during a run; check once per document that it has not
        # changed since the table was built (another extension, a pattern's new regex).
        table = self._table
        if table is None or table.key != _PatternTable.key_of(self.inlinePatterns):
            self._table = _PatternTable(list(self.inlinePatterns))
        return super().run(tree, ancestors)

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:  # noqa: N802,N803
        # overrides the name-mangled private method of InlineProcessor; same contract
        if isinstance(data, AtomicString):
            return data
        table = self._table
        if table is None:  # called outside run(): build the table now
            table = self._table = _PatternTable(list(self.inlinePatterns))
        patterns = table.patterns
        regexes = table.regexes
        apply = self._InlineProcessor__applyPattern
        candidates = table.candidates(data)
        if not candidates:
            return data  # the common case: plain text that no pattern can match
        start = 0
        while True:
            # The next pattern that can match. Markdown would try each one in between, fail,
            # and restart the next search at 0; with no required text in `data` the regex cannot
            # match anywhere in it, wherever the search starts.
            position = bisect_left(candidates, patternIndex)
            if position == len(candidates):
                return data
            index = candidates[position]
            if index != patternIndex:
                patternIndex = index
                start = 0
            regex = regexes[index]
            if regex is not None and regex.search(data, start) is None:
                # no match from `start`: __applyPattern would return (data, False, 0) without
                # calling the pattern, so skip it the same way
                patternIndex += 1
                start = 0
                continue
            new_data, matched, start = apply(patterns[index], data, patternIndex, start)
            if not matched:
                patternIndex += 1
            elif new_data is not data:
                # a match replaced part of the text with a placeholder: what can match changed
                data = new_data
                candidates = table.candidates(data)

    def _InlineProcessor__processPlaceholders(  # noqa: N802 (Markdown's private method)
            self, data: str | None, parent: ET.Element,
            isText: bool = True) -> list[tuple[ET.Element, list[str]]]:  # noqa: N803
        # Most text has no placeholder. Markdown's loop would then find none, append the whole
        # text (kept atomic if it was) to parent.text or parent.tail and return no elements;
        # do that directly. Anything else goes through Markdown's own code.
        if data and self._InlineProcessor__placeholder_prefix not in data:
            text = AtomicString(data) if isinstance(data, AtomicString) else data
            if isText:
                parent.text = parent.text + text if parent.text else text
            else:
                parent.tail = parent.tail + text if parent.tail else text
            return []
        return super()._InlineProcessor__processPlaceholders(
            data, parent, isText)


# Block processors whose test() (or, for the last three, whose run() before it changes anything)
# is one regex search of the block, and the text that regex cannot match without: groups of
# text, each needing one of its members. By (module.class, the regex's attribute, its source),
# so a processor that is not exactly this one keeps its own test.
#
# BlockParser.parseBlocks offers each block to every processor in turn. A test that says no when
# the text is missing gives the same answer as the search would, and the last three return True
# from test() and, when their search finds nothing, put the block back and return False from
# run(), leaving everything as it was: the parser moves on to the next processor either way.
_BLOCK_GUARDS: dict[tuple[str, str, str], tuple[tuple[str, ...], ...]] = {
    ("markdown.blockprocessors.HashHeaderProcessor", "RE",
     r'(?:^|\n)(?P<level>#{1,6})(?P<header>(?:\\.|[^\\#]|#+(?=[^#\n]))*?)#*(?:\n|$)'):
        (("#",),),
    ("markdown.blockprocessors.SetextHeaderProcessor", "RE", r'^.*?\n(?:=+|-+)[ ]*(\n|$)'):
        (("\n=", "\n-"),),
    ("markdown.blockprocessors.HRProcessor", "SEARCH_RE",
     r'^[ ]{0,3}(?=(?P<atomicgroup>(-+[ ]{0,2}){3,}|(_+[ ]{0,2}){3,}|(\*+[ ]{0,2}){3,}))'
     r'(?P=atomicgroup)[ ]*$'):
        (("-", "_", "*"),),
    ("markdown.extensions.def_list.DefListProcessor", "RE", r'(^|\n)[ ]{0,3}:[ ]{1,3}(.*?)(\n|$)'):
        ((":",),),
    ("markdown.blockprocessors.BlockQuoteProcessor", "RE", r'(^|\n)[ ]{0,3}>[ ]?(.*)'):
        ((">",),),
    ("markdown.extensions.footnotes.FootnoteBlockProcessor", "RE",
     r'^[ ]{0,3}\[\^([^\]]*)\]:[ ]*(.*)$'):
        (("[^",), ("]:",)),
    ("markdown.extensions.abbr.AbbrBlockprocessor", "RE",
     r'^[*]\[(?P<abbr>[^\\]*?)\][ ]?:[ ]*\n?[ ]*(?P<title>.*)$'):
        (("*[",), ("]",)),
    ("markdown.blockprocessors.ReferenceProcessor", "RE",
     r'^[ ]{0,3}\[([^\[\]]*)\]:[ ]*(?:\n[ ]*)?([^\s]+)[ ]*(?:\n[ ]*)?'
     r'''((["\'])(.*)\4[ ]*|\((.*)\)[ ]*)?$'''):
        (("[",), ("]:",)),
}


def _guarded_test(test: Callable[[ET.Element, str], bool],
                  groups: tuple[tuple[str, ...], ...]) -> Callable[[ET.Element, str], bool]:
    """`test`, answering False at once when `block` lacks the text its regex needs."""
    if len(groups) == 1 and len(groups[0]) == 1:
        needed = groups[0][0]

        def guarded_one(parent: ET.Element, block: str) -> bool:
            return needed in block and test(parent, block)
        return guarded_one

    def guarded(parent: ET.Element, block: str) -> bool:
        for group in groups:
            for text in group:
                if text in block:
                    break
            else:
                return False  # no member of this group is in the block
        return test(parent, block)
    return guarded


def _guard_block_tests(md: markdown.Markdown) -> None:
    for processor in md.parser.blockprocessors:
        cls = type(processor)
        name = f"{cls.__module__}.{cls.__qualname__}"
        for (guarded_name, attr, source), groups in _BLOCK_GUARDS.items():
            regex = getattr(processor, attr, None)
            if (name == guarded_name and isinstance(regex, re.Pattern)
                    and regex.pattern == source and not regex.flags & re.IGNORECASE):
                processor.test = _guarded_test(processor.test, groups)


def _speed_up(md: markdown.Markdown) -> None:
    """Swap the class of the inline passes (Markdown's own and smarty's) for the fast one, and
    let the block processors skip the searches that cannot succeed."""
    for processor in md.treeprocessors:
        if type(processor) is InlineProcessor:
            processor.__class__ = _FastInlineProcessor
    _guard_block_tests(md)


def _merged_configs(config: MarkdownConfig) -> dict[str, dict[str, Any]]:
    merged = {name: dict(values) for name, values in DEFAULT_EXTENSION_CONFIGS.items()}
    for name, values in config.extension_configs.items():
        merged.setdefault(name, {}).update(values)
    if merged.get("toc", {}).get("slugify") is None:
        merged.setdefault("toc", {})["slugify"] = _heading_slug
    return {name: values for name, values in merged.items() if name in config.extensions}


# Python-Markdown's own extensions. Named as text, Python-Markdown finds an extension by
# scanning every installed package's entry points (about 30 ms of every build, most of what
# setting Markdown up costs when an edit renders one essay); these are made from their modules.
_SHIPPED_EXTENSIONS = frozenset({
    "abbr", "admonition", "attr_list", "codehilite", "def_list", "extra", "fenced_code",
    "footnotes", "legacy_attrs", "legacy_em", "md_in_html", "meta", "nl2br", "sane_lists",
    "smarty", "tables", "toc", "wikilinks"})


def _made_extensions(names: Any, configs: Mapping[str, Any]) -> list[Any]:
    """Extension objects for Python-Markdown's own extensions, the names of any others."""
    made: list[Any] = []
    for name in names:
        if name not in _SHIPPED_EXTENSIONS:
            made.append(name)  # another package's: Python-Markdown finds it by its entry point
            continue
        module = importlib.import_module(f"markdown.extensions.{name}")
        if name == "extra":  # extra only registers these, by name, with its own configs
            made.extend(_made_extensions(module.extensions, configs.get(name, {})))
        else:
            made.append(module.makeExtension(**configs.get(name, {})))
    return made


class MarkdownRenderer:
    """The site's configured Markdown converter."""

    def __init__(self, config: MarkdownConfig, direct: bool = True) -> None:
        """`direct=False` always uses Python-Markdown (the tests compare the two)."""
        self._extension = _CsblogExtension()
        try:
            configs = _merged_configs(config)
            self._md = markdown.Markdown(
                extensions=[*_made_extensions(config.extensions, configs), self._extension],
                extension_configs=configs,
                output_format="html",
            )
        except (ImportError, AttributeError, TypeError, KeyError) as exc:
            raise ConfigError(
                f"'markdown.extensions': cannot load the Markdown extensions: {exc}",
                "csblog.toml",
                hint="use names Python-Markdown knows, such as "
                     "\"extra\", \"toc\", \"codehilite\", \"smarty\", \"sane_lists\"") from None
        _speed_up(self._md)
        # The direct renderer follows exactly these extensions, as configured here, in the
        # Python-Markdown versions it was compared with; anything else is Python-Markdown's alone.
        self._direct = (DirectRenderer(self._md, _REQUIRED_TEXT)
                        if direct and _direct_applies(config) else None)

    def render(self, text: str, source_rel: str) -> RenderedMarkdown:
        """Convert one document. `source_rel` locates relative links and images."""
        md = self._md
        md.reset()
        processor = self._extension.processor
        assert processor is not None
        processor.source_dir = posixpath.dirname(source_rel)
        processor.word_count = 0  # convert() skips the tree processors for blank text
        text = limit_nesting(text)
        if self._direct is not None:
            direct = self._direct.render(text, processor._mark)
            if direct is not None:
                html, toc, heading_count, word_count = direct
                summary, html = _split_summary(_focusable_scrollers(html))
                return RenderedMarkdown(html=html, toc=toc, heading_count=heading_count,
                                        summary=summary, word_count=word_count)
            md.reset()  # the attempt may have stashed fenced code
        try:
            html = md.convert(text)
        except RecursionError:
            raise ContentError("the Markdown is nested too deeply to render", source_rel,
                               hint=f"keep quotes and lists under {MAX_NESTING} levels") from None
        toc_tokens = getattr(md, "toc_tokens", [])
        toc = getattr(md, "toc", "")
        summary, html = _split_summary(_focusable_scrollers(html))
        return RenderedMarkdown(
            html=html,
            toc=_toc_list(toc) if toc_tokens else "",
            heading_count=_count_tokens(toc_tokens),
            summary=summary,
            word_count=processor.word_count,
        )


# Python-Markdown versions (major.minor) whose output the direct renderer was compared with
_DIRECT_VERSIONS = ("3.11",)


def _direct_applies(config: MarkdownConfig) -> bool:
    version = ".".join(getattr(markdown, "__version__", "").split(".")[:2])
    return (version in _DIRECT_VERSIONS and tuple(config.extensions) == DEFAULT_EXTENSIONS
            and not config.extension_configs)


MAX_NESTING = 32
_DEEP_QUOTE = re.compile(rf"^((?:[ \t]{{0,3}}>){{{MAX_NESTING}}})(?:[ \t]{{0,3}}>)+", re.M)
_DEEP_INDENT = re.compile(rf"^[ \t]{{{MAX_NESTING * 4 + 1},}}", re.M)
# quotes and list markers nested on one line: "> - 1. > - item"
_MARKER = r"[ \t]{0,3}(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t]))"
_DEEP_MARKERS = re.compile(rf"^((?:{_MARKER}){{{MAX_NESTING}}})(?:{_MARKER})+", re.M)


def limit_nesting(text: str) -> str:
    """Flatten quotes and indentation deeper than any essay needs.

    Python-Markdown recurses once per level, so 10,000 nested '>' or list levels would exhaust
    the stack; text this deep is cut to MAX_NESTING levels instead. Ordinary text is unchanged.
    """
    if ">" * MAX_NESTING in text.replace(" ", "") or " " * (MAX_NESTING * 4) in text \
            or "\t" * MAX_NESTING in text:
        text = _DEEP_QUOTE.sub(r"\1", text)
        text = _DEEP_INDENT.sub(" " * (MAX_NESTING * 4), text)
    return _DEEP_MARKERS.sub(r"\1", text)


def _focusable_scrollers(html: str) -> str:
    """Code blocks and tables scroll sideways on a phone; keyboard users must reach them too."""
    return html.replace("<pre>", '<pre tabindex="0">').replace("<table>", '<table tabindex="0">')


def _toc_list(toc_html: str) -> str:
    """The <ul> of Python-Markdown's toc without its wrapping <div class="toc">."""
    start = toc_html.find("<ul>")
    end = toc_html.rfind("</ul>")
    return toc_html[start : end + 5] if start != -1 and end != -1 else ""


def _count_tokens(tokens: list[dict[str, Any]]) -> int:
    return sum(1 + _count_tokens(t.get("children", [])) for t in tokens)


def _clean_summary(html: str) -> str:
    """Summary HTML that can stand in a listing: no ids, footnote marks or heading links."""
    html = _HEADING_LINK.sub(r"\1", html)
    html = _FOOTNOTE_REF.sub("", html)
    return _ID_ATTR.sub("", html).strip()


def _split_summary(html: str) -> tuple[str, str]:
    """(summary, html without the summary marker)."""
    marker = f' {_SUMMARY_ATTR}="1"'
    first_p = html.find("<p" + marker)
    first_para = ""
    if first_p != -1:
        end = html.find("</p>", first_p)
        first_para = html[first_p : end + 4].replace(marker, "", 1)
        html = html.replace(marker, "", 1)
    more = html.find(MORE_MARKER)
    if more != -1:
        return _clean_summary(html[:more]), html.replace(MORE_MARKER, "", 1)
    return _clean_summary(first_para), html


def resolve_links(html: str, resolve_source: Callable[[str], str | None],
                  site_url: Callable[[str], str],
                  on_missing: Callable[[str], None] | None = None) -> str:
    """Replace link placeholders with URLs.

    `resolve_source` maps a source path ("content/posts/x.md") to its URL or None; an unresolved
    link keeps what the writer wrote and is reported through `on_missing`.
    """
    if "csblog:" not in html:
        return html

    def replace(match: re.Match[str]) -> str:
        attr, kind, value = match.groups()
        if kind == SITE_LINK:
            return f'{attr}="{site_url(value)}"'
        target, _, original = value.partition("::")
        path, sep, fragment = target.partition("#")
        url = resolve_source(path)
        if url is None:
            if on_missing is not None:
                on_missing(original)
            return f'{attr}="{original}"'
        return f'{attr}="{url}{sep}{fragment}"'

    return _PLACEHOLDER_ATTR.sub(replace, html)


# --- readers' replies ------------------------------------------------------------------------

_SAFE_SCHEMES = ("http://", "https://", "mailto:")


class _ReplySafetyProcessor(Treeprocessor):
    """Keeps only http(s) and mailto links; images from strangers become their alt text."""

    def run(self, root: ET.Element) -> None:
        for parent in root.iter():
            for child in list(parent):
                if child.tag == "img":
                    index = list(parent).index(child)
                    parent.remove(child)
                    alt = child.get("alt", "")
                    if index == 0:
                        parent.text = (parent.text or "") + alt + (child.tail or "")
                    else:
                        prev = parent[index - 1]
                        prev.tail = (prev.tail or "") + alt + (child.tail or "")
                elif child.tag == "a":
                    href = child.get("href", "")
                    if not href.lower().startswith(_SAFE_SCHEMES):
                        child.tag = "span"
                        child.attrib.clear()
                    else:
                        child.set("rel", "nofollow ugc")


class _ReplyExtension(Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:  # noqa: N802
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_ReplySafetyProcessor(md), "reply_safety", 1)


class ReplyRenderer:
    """Markdown for readers' replies: raw HTML is shown as text, only safe links are kept."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(
            extensions=["smarty", "sane_lists", "fenced_code", _ReplyExtension()],
            output_format="html",
        )

    def render(self, text: str) -> str:
        self._md.reset()
        return _focusable_scrollers(self._md.convert(limit_nesting(text)))


def extension_fingerprint(config: MarkdownConfig) -> Mapping[str, Any]:
    """The Markdown settings as plain data (for cache keys)."""
    return {"extensions": list(config.extensions),
            "configs": {k: {kk: _stable_repr(vv) for kk, vv in v.items()}
                        for k, v in _merged_configs(config).items()}}


def _stable_repr(value: Any) -> str:
    """repr() that is the same in every process: a function by its name, not its address."""
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '')}.{value.__qualname__}"
    return repr(value)
