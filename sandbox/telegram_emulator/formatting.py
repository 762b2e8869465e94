"""Message text as Telegram stores it: HTML, MarkdownV2 and Markdown parsed into entities.

Errors carry the real Bot API wording ("can't parse entities: ...") and UTF-8 byte offsets;
entity offsets and lengths are in UTF-16 code units, as in real Messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .common import JSON, ApiError, bad_request

MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024

_COMMAND_IN_TEXT: Final = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")


def entities_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    # Telegram reports parse errors at UTF-8 byte offsets.
    return len(text[:index].encode())


class _TextBuilder:
    """Collects plain text and its entities, with offsets in UTF-16 code units like Telegram."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._entities: list[JSON] = []
        self.length = 0

    def append(self, text: str) -> None:
        self._parts.append(text)
        self.length += _utf16_len(text)

    def add_entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.length > start:  # Telegram drops empty entities
            entity = {"offset": start, "length": self.length - start, "type": kind}
            self._entities.append(entity | extra)

    def result(self) -> tuple[str, list[JSON]]:
        entities = sorted(self._entities, key=lambda entity: (entity["offset"], -entity["length"]))
        return "".join(self._parts), entities


_HTML_TAGS: Final = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "a": "text_link", "code": "code", "pre": "pre", "tg-spoiler": "spoiler", "span": "spoiler",
    "blockquote": "blockquote",
}  # fmt: skip
_HTML_TAG_NAME: Final = re.compile(r"([a-zA-Z][a-zA-Z0-9-]*)(\s.*)?", re.DOTALL)
_HTML_ATTRIBUTE: Final = re.compile(
    r"""([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"']+)))?"""
)
_HTML_CHARACTER_REFERENCE: Final = re.compile(r"&(?:(lt|gt|amp|quot)|#([0-9]+)|#x([0-9a-fA-F]+));")
_HTML_NAMED_REFERENCES: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _unescape_html(text: str) -> str:
    # Only the four named references and numeric ones are supported; others stay as typed.
    def replace(match: re.Match[str]) -> str:
        named, decimal, hexadecimal = match.groups()
        if named:
            return _HTML_NAMED_REFERENCES[named]
        code = int(decimal) if decimal else int(hexadecimal, 16)
        return chr(code) if 0 < code < 0x110000 else match.group()

    return _HTML_CHARACTER_REFERENCE.sub(replace, text)


@dataclass
class _OpenTag:
    name: str
    start: int
    attributes: dict[str, str]
    language: str | None = None


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    builder = _TextBuilder()
    open_tags: list[_OpenTag] = []
    position = 0
    while (tag_start := source.find("<", position)) >= 0:
        builder.append(_unescape_html(source[position:tag_start]))
        offset = _byte_offset(source, tag_start)
        tag_end = source.find(">", tag_start)
        if tag_end < 0:
            raise entities_error(f"Can't find end of the tag starting at byte offset {offset}")
        tag = source[tag_start + 1 : tag_end]
        if tag.startswith("/"):
            _close_html_tag(tag[1:].strip().lower(), open_tags, builder, offset)
        else:
            open_tags.append(_open_html_tag(tag, builder.length, offset))
        position = tag_end + 1
    builder.append(_unescape_html(source[position:]))
    if open_tags:
        name = open_tags[-1].name
        raise entities_error(f'Can\'t find end tag corresponding to start tag "{name}"')
    return builder.result()


def _open_html_tag(tag: str, start: int, offset: int) -> _OpenTag:
    match = _HTML_TAG_NAME.fullmatch(tag)
    name = match.group(1).lower() if match else tag.split(" ", 1)[0]
    if match is None or name not in _HTML_TAGS:
        raise entities_error(f'Unsupported start tag "{name}" at byte offset {offset}')
    attributes = {
        key.lower(): _unescape_html(next((v for v in values if v is not None), ""))
        for key, *values in _HTML_ATTRIBUTE.findall(match.group(2) or "")
    }
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise entities_error(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    return _OpenTag(name, start, attributes)


def _close_html_tag(
    name: str, open_tags: list[_OpenTag], builder: _TextBuilder, offset: int
) -> None:
    if not open_tags:
        raise entities_error(f"Unexpected end tag at byte offset {offset}")
    tag = open_tags.pop()
    if tag.name != name:
        raise entities_error(
            f"Unmatched end tag at byte offset {offset}, "
            f'expected "</{tag.name}>", found "</{name}>"'
        )
    if tag.name == "code" and open_tags and open_tags[-1].name == "pre":
        # <pre><code class="language-x"> is one pre entity with a language, not two entities.
        language = tag.attributes.get("class", "").removeprefix("language-")
        open_tags[-1].language = language or None
        return
    kind, extra = _HTML_TAGS[tag.name], {}
    if tag.name == "a":
        if not tag.attributes.get("href"):
            return  # an <a> without href is plain text
        extra = {"url": tag.attributes["href"]}
    elif tag.name == "pre" and tag.language:
        extra = {"language": tag.language}
    elif tag.name == "blockquote" and "expandable" in tag.attributes:
        kind = "expandable_blockquote"
    builder.add_entity(kind, tag.start, **extra)


_MARKDOWN_V2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_V2_TOGGLES: Final = {
    "*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler",
}  # fmt: skip
_ENTITY_NAMES: Final = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
    "spoiler": "Spoiler", "text_link": "TextUrl", "code": "Code", "pre": "Pre",
}  # fmt: skip
_MARKDOWN_V2_ESCAPE: Final = re.compile(r"\\([\x01-\x7e])")


def _find_unescaped(source: str, needle: str, start: int) -> int:
    index = start
    while index < len(source):
        if source[index] == "\\":
            index += 2
        elif source.startswith(needle, index):
            return index
        else:
            index += 1
    return -1


def _parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    builder = _TextBuilder()
    open_entities: list[tuple[str, int, int]] = []  # (type, start, index of the marker)
    quote_start: int | None = None
    index = 0
    while index < len(source):
        char, pair = source[index], source[index : index + 2]
        if char == "\\" and _MARKDOWN_V2_ESCAPE.match(source, index):
            builder.append(source[index + 1])
            index += 2
        elif char == "`":
            index = _markdown_v2_code(source, index, builder)
        elif pair in ("__", "||") or char in _MARKDOWN_V2_TOGGLES:
            marker = pair if pair in ("__", "||") else char
            _toggle_entity(source, index, open_entities, _MARKDOWN_V2_TOGGLES[marker], builder)
            index += len(marker)
        elif char == "[":
            open_entities.append(("text_link", builder.length, index))
            index += 1
        elif char == "]" and open_entities and open_entities[-1][0] == "text_link":
            close = _find_unescaped(source, ")", index + 2)
            if source[index + 1 : index + 2] != "(" or close < 0:
                offset = _byte_offset(source, index)
                raise entities_error(f"Can't find end of a URL at byte offset {offset}")
            url = _MARKDOWN_V2_ESCAPE.sub(r"\1", source[index + 2 : close])
            builder.add_entity("text_link", open_entities.pop()[1], url=url)
            index = close + 1
        elif char == ">" and (index == 0 or source[index - 1] == "\n"):
            quote_start = builder.length if quote_start is None else quote_start
            index += 1
        elif char in _MARKDOWN_V2_RESERVED:
            raise entities_error(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            if char == "\n" and quote_start is not None and source[index + 1 : index + 2] != ">":
                builder.add_entity("blockquote", quote_start)
                quote_start = None
            builder.append(char)
            index += 1
    if quote_start is not None:
        builder.add_entity("blockquote", quote_start)
    if open_entities:
        kind, _, marker_index = open_entities[-1]
        raise _unterminated(kind, source, marker_index)
    return builder.result()


def _unterminated(kind: str, source: str, index: int) -> ApiError:
    offset = _byte_offset(source, index)
    return entities_error(f"Can't find end of {_ENTITY_NAMES[kind]} entity at byte offset {offset}")


def _markdown_v2_code(source: str, index: int, builder: _TextBuilder) -> int:
    fence = "```" if source.startswith("```", index) else "`"
    kind = "pre" if fence == "```" else "code"
    close = _find_unescaped(source, fence, index + len(fence))
    if close < 0:
        raise _unterminated(kind, source, index)
    content, extra = source[index + len(fence) : close], {}
    first_line, newline, rest = content.partition("\n")
    if kind == "pre" and newline and first_line and " " not in first_line:
        content, extra = rest, {"language": first_line}
    start = builder.length
    builder.append(_MARKDOWN_V2_ESCAPE.sub(r"\1", content))
    builder.add_entity(kind, start, **extra)
    return close + len(fence)


def _toggle_entity(
    source: str,
    index: int,
    open_entities: list[tuple[str, int, int]],
    kind: str,
    builder: _TextBuilder,
) -> None:
    if open_entities and open_entities[-1][0] == kind:
        builder.add_entity(kind, open_entities.pop()[1])
        return
    for open_kind, _, open_index in open_entities:
        if open_kind == kind:  # entities must nest; closing across another one is an error
            raise _unterminated(kind, source, open_index)
    open_entities.append((kind, builder.length, index))


_MARKDOWN_MARKERS: Final = {"```": "pre", "*": "bold", "_": "italic", "`": "code"}


def _parse_markdown(source: str) -> tuple[str, list[JSON]]:
    """Legacy Markdown: no nesting, and an unmatched marker is an error (e.g. a_user_name)."""
    builder = _TextBuilder()
    index = 0
    while index < len(source):
        char = source[index]
        marker = "```" if source.startswith("```", index) else char
        if char == "\\" and source[index + 1 : index + 2] in ("_", "*", "`", "["):
            builder.append(source[index + 1])
            index += 2
        elif marker in _MARKDOWN_MARKERS or char == "[":
            index = _markdown_entity(source, index, marker, builder)
        else:
            builder.append(char)
            index += 1
    return builder.result()


def _markdown_entity(source: str, index: int, marker: str, builder: _TextBuilder) -> int:
    offset = _byte_offset(source, index)
    unterminated = entities_error(f"Can't find end of the entity starting at byte offset {offset}")
    start = builder.length
    if marker == "[":
        text_end = source.find("](", index)
        url_end = source.find(")", text_end + 2) if text_end >= 0 else -1
        if url_end < 0:
            raise unterminated
        builder.append(source[index + 1 : text_end])
        builder.add_entity("text_link", start, url=source[text_end + 2 : url_end])
        return url_end + 1
    close = source.find(marker, index + len(marker))
    if close < 0:
        raise unterminated
    builder.append(source[index + len(marker) : close])
    builder.add_entity(_MARKDOWN_MARKERS[marker], start)
    return close + len(marker)


_PARSERS: Final[dict[str, Callable[[str], tuple[str, list[JSON]]]]] = {
    "html": _parse_html,
    "markdownv2": _parse_markdown_v2,
    "markdown": _parse_markdown,
}


def formatted(source: str, parse_mode: str | None, entities: Any) -> tuple[str, list[JSON]]:
    """The text as Telegram stores it: markup parsed into entities, outer whitespace stripped."""
    if parse_mode:
        parser = _PARSERS.get(parse_mode.lower())
        if parser is None:
            raise bad_request("unsupported parse_mode")
        text, found = parser(source)
    elif entities is None:
        text, found = source, []
    elif isinstance(entities, list) and all(map(_is_entity, entities)):
        text, found = source, entities
    else:
        raise bad_request("can't parse entities JSON object")
    return _strip(text, found)


def _is_entity(entity: Any) -> bool:
    return (
        isinstance(entity, dict)
        and isinstance(entity.get("type"), str)
        and isinstance(entity.get("offset"), int)
        and isinstance(entity.get("length"), int)
    )


def _strip(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift, end = _utf16_len(text) - _utf16_len(text.lstrip()), _utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        stop = min(entity["offset"] + entity["length"] - shift, end)
        if stop > start:
            kept.append(entity | {"offset": start, "length": stop - start})
    return stripped, kept


def check_text_length(text: str) -> None:
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")


def command_entities(text: str) -> list[JSON]:
    return [
        {
            "offset": _utf16_len(text[: m.start()]),
            "length": _utf16_len(m.group()),
            "type": "bot_command",
        }
        for m in _COMMAND_IN_TEXT.finditer(text)
    ]
