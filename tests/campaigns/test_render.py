"""Mail-merge rendering, pure: merge fields and fallbacks, Markdown to safe HTML plus text,
one-line subjects, and templates written to break out of the sandbox."""

from __future__ import annotations

import pytest

from inboxcrm.campaigns.render import TemplateProblem, compile_template, merge_context, render

SECRET = "test-secret-key-" + "x" * 32
ANN = merge_context(
    {"first_name": "Ann", "name": "Ann Archer", "email": "ann@acme.example", "title": None},
    {"name": "Acme <Corp> & Co"},
    {"name": "Sam Sender", "email": "sam@team.example"},
)


def test_merge_fields_fill_the_subject_html_and_text() -> None:
    body = (
        "Hi **{{ lead.first_name }}**,\n\n"
        "{{ company.name }} and [our site](https://team.example/?for={{ lead.email }}).\n\n"
        "{% if lead.title %}As {{ lead.title }}{% else %}No title{% endif %}\n\n"
        "- {{ sender.name | upper }}\n"
    )
    out = render("Hello {{ lead.first_name }} from {{ company.name }}", body, ANN)
    assert out.subject == "Hello Ann from Acme <Corp> & Co"
    assert "<strong>Ann</strong>" in out.html
    assert "Acme &lt;Corp&gt; &amp; Co" in out.html  # values are escaped into the HTML
    assert 'href="https://team.example/?for=ann@acme.example"' in out.html
    assert "No title" in out.html
    assert "SAM SENDER" in out.html
    assert out.text.startswith("Hi **Ann**,")
    assert "Acme <Corp> & Co" in out.text  # the text part is plain


def test_a_missing_field_needs_a_fallback_and_says_which_and_where() -> None:
    with pytest.raises(TemplateProblem) as caught:
        render("Hi", "Hello,\n\nAs {{ lead.title }} you know", ANN)
    problem = caught.value
    assert (problem.part, problem.line) == ("body", 3)
    assert "lead.title is missing for this lead" in str(problem)
    assert 'default("...")' in str(problem)
    out = render("Hi", "As {{ lead.title | default('a leader') }}", ANN)
    assert "As a leader" in out.text
    with pytest.raises(TemplateProblem, match=r"lead\.frist_name is not a merge field"):
        render("Hi {{ lead.frist_name }}", "x", ANN)


def test_a_subject_is_one_line_whatever_the_template_or_the_values_hold() -> None:
    evil = merge_context({"first_name": "Ann\r\nBcc: all@world.example"}, {}, {})
    out = render("Hi {{ lead.first_name }}\r\nX-Injected: yes", "Body", evil)
    assert "\r" not in out.subject
    assert "\n" not in out.subject
    assert out.subject == "Hi Ann Bcc: all@world.example X-Injected: yes"


def test_raw_html_in_the_body_is_not_markup() -> None:
    out = render("Hi", "<script>alert(1)</script> <img src=x onerror=alert(1)>", ANN)
    assert "<script" not in out.html
    assert "<img" not in out.html
    out = render("Hi", "[x](javascript:alert(1))", ANN)
    assert 'href="javascript' not in out.html


PAYLOADS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ lead.__class__ }}",
    "{{ lead['_values'] }}",
    "{{ lead._values }}",
    "{{ config }}",
    "{{ config.SECRET_KEY }}",
    "{{ self }}",
    "{{ self.__init__.__globals__ }}",
    "{{ request }}",
    "{{ request.application.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{% set ns = namespace(x=1) %}{{ ns }}",
    "{{ range.__self__ }}",
    "{{ lead|attr('__class__') }}",
    "{{ 'x' * 10**9 }}",
    "{{ 10**10**10**10 }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '{0:>999999999}'.format(1) }}",
    "{{ 'ab'|replace('', 'x' * 1000000) }}",
    "{{ ['a'] * 100000 | join('x' * 1000) }}",
    "{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}"
    "{% endfor %}{% endfor %}{% endfor %}",
    "{% for i in range(10**9) %}{% endfor %}",
    "{% for c in 'x' * 1000000 %}{% for d in 'x' * 1000000 %}{% endfor %}{% endfor %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% include 'base.html' %}",
    "{% extends 'base.html' %}",
    "{% import 'x' as y %}",
    "{% set x %}{{ 'a' }}{% endset %}",
    "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}",
    "{{ tick_loop }}",
    "{{ lead.items() }}",
    "{{ ('x' * 1900000) ~ ('x' * 1900000) ~ ('x' * 1900000) }}",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sandbox_escapes_are_refused_or_harmless(payload: str) -> None:
    try:
        compiled = compile_template("Hi {{ lead.first_name }}", payload, seconds=0.2)
        out = compiled.render(ANN)
    except TemplateProblem as problem:
        said = str(problem)
        assert SECRET not in said
        assert "Traceback" not in said
        return
    rendered = out.subject + out.html + out.text
    for leak in ("<class", "mro", "subclasses", "SECRET", "module", "function", "builtins"):
        assert leak not in rendered, (payload, rendered[:200])
    assert len(rendered) < 5_000_000


def test_a_template_of_a_megabyte_renders_and_a_larger_one_is_refused() -> None:
    para = "Hello {{ lead.first_name }}, " + "a long and careful letter. " * 400 + "\n\n"
    big = para * (1_000_000 // len(para))
    big += "x" * (1_000_000 - len(big))
    out = compile_template("Hi", big).render(ANN)
    assert out.text.count("Hello Ann,") == 1_000_000 // len(para)
    with pytest.raises(TemplateProblem, match="at most 2,000 merge fields"):
        compile_template("Hi", "{{ lead.name }}" * 2001)
    with pytest.raises(TemplateProblem, match="at most 1,000,000 characters"):
        compile_template("Hi", big + "x")


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateProblem) as caught:
        compile_template("Hi", "one\ntwo\n{% if lead.title %}never closed")
    assert (caught.value.part, caught.value.line) == ("body", 3)
    with pytest.raises(TemplateProblem, match="subject"):
        compile_template("{{ oops", "x")
    with pytest.raises(TemplateProblem, match="needs a subject"):
        compile_template("  ", "x")
