"""Untrusted email HTML made safe to show (nh3), and plain text for snippets and search.

The sanitized HTML is still shown in a sandboxed iframe under a strict CSP: this is the
first wall, not the only one.

Remote images: with `allow_remote_images=False` every `<img>` whose source is http(s)
loses its `src` and keeps the address in `data-remote-src` (plus the class
`inboxcrm-blocked-image`), so nothing is fetched until the page, on the viewer's request,
copies `data-remote-src` back into `src`. The address has already passed the same URL
check as any other, and no `data-*` attribute survives from the email itself.
Inline images (`cid:`) and small raster `data:image/...;base64` images are kept. Relative
URLs mean nothing in an email and are removed (`//host/pixel.gif` would otherwise load).
`<style>` elements are removed with their content; inline `style` attributes keep only
plain declarations from a short list of layout and text properties.
"""

from __future__ import annotations

import contextlib
import re
from functools import partial
from html.parser import HTMLParser

import nh3

_TAGS = (set(nh3.ALLOWED_TAGS) | {"font", "tfoot", "section", "main"}) - {"area", "map"}
_CLEAN_CONTENT_TAGS = {"script", "style", "title", "head", "noscript", "template", "xmp"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"style", "align", "valign", "dir", "lang", "title", "width", "height", "bgcolor"},
    "a": {"href", "hreflang", "name"},
    "font": {"color", "face", "size"},
    "img": {"src", "alt", "width", "height", "align", "border", "hspace", "vspace"},
    "table": {"border", "cellpadding", "cellspacing", "summary", "align", "width"},
    "td": {"colspan", "rowspan", "nowrap", "headers", "align"},
    "th": {"colspan", "rowspan", "nowrap", "scope", "headers", "align"},
}
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid", "data"}
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|bmp);base64,[a-z0-9+/=\s]*$", re.I)

_STYLE_PROPERTIES = frozenset(
    """
    color background-color font font-family font-size font-style font-weight line-height
    text-align text-decoration text-transform text-indent letter-spacing word-spacing
    white-space vertical-align direction width height max-width min-width max-height
    min-height margin margin-top margin-right margin-bottom margin-left padding padding-top
    padding-right padding-bottom padding-left border border-top border-right border-bottom
    border-left border-color border-style border-width border-radius border-collapse
    border-spacing display list-style-type table-layout
    """.split()
)
# Values made only of words, numbers, colours and rgb()/hsl(): no url(), no expression(),
# no CSS escapes (which could spell either), no quotes tricks beyond font names.
_STYLE_VALUE = re.compile(r"^(?:[#\w\s.,%'\"!/+-]|(?:rgba?|hsla?)\([\d\s.,%/]*\))*$", re.A)


def _clean_style(value: str) -> str | None:
    kept = []
    for declaration in value.split(";"):
        prop, sep, val = declaration.partition(":")
        prop = prop.strip().lower()
        if sep and prop in _STYLE_PROPERTIES and _STYLE_VALUE.match(val.strip()):
            kept.append(f"{prop}: {val.strip()}")
    return "; ".join(kept) or None


def _filter(element: str, attribute: str, value: str) -> str | None:
    if attribute == "style":
        return _clean_style(value)
    if value.strip().lower().startswith("data:"):
        safe = element == "img" and attribute == "src" and _SAFE_DATA_IMAGE.match(value.strip())
        return value if safe else None
    return value


_CLEAN = partial(
    nh3.clean,
    tags=_TAGS,
    clean_content_tags=_CLEAN_CONTENT_TAGS,
    attributes=_ATTRIBUTES,
    attribute_filter=_filter,
    link_rel="noopener noreferrer nofollow",
    set_tag_attribute_values={"a": {"target": "_blank"}},
    url_schemes=_URL_SCHEMES,
    url_relative="deny",
)

# The sanitizer's output is normalized: every attribute is name="value" with `"` escaped,
# so tags and attributes can be matched exactly (this runs on nh3's output only).
_IMG_TAG = re.compile(r'<img((?:\s+[^\s=>/]+(?:="[^"]*")?)*)\s*/?>')
_REMOTE_SRC = re.compile(r'\ssrc="(https?:[^"]*)"', re.I)


def _block_remote(match: re.Match[str]) -> str:
    attrs = match.group(1)
    remote = _REMOTE_SRC.search(attrs)
    if remote is None:
        return match.group(0)
    attrs = attrs.replace(remote.group(0), "", 1)
    return f'<img data-remote-src="{remote.group(1)}" class="inboxcrm-blocked-image"{attrs}>'


def sanitize_html(html: str, allow_remote_images: bool) -> str:
    """Email HTML with everything that could run, submit, redirect or track removed."""
    cleaned = _CLEAN(html)
    return cleaned if allow_remote_images else _IMG_TAG.sub(_block_remote, cleaned)


# --- plain text -----------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    """
    p div br tr li h1 h2 h3 h4 h5 h6 table blockquote pre hr section article header footer
    ul ol dl dt dd address center
    """.split()
)
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.chunks.append(data)


_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n\s*(?:\n\s*)+")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: no markup, scripts or styles; paragraphs kept."""
    parser = _TextExtractor()
    with contextlib.suppress(Exception):  # HTMLParser is lenient; text is never worth raising
        parser.feed(html)
        parser.close()
    text = _SPACES.sub(" ", "".join(parser.chunks))
    lines = (line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
