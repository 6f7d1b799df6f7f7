"""Mail-merge templates, rendered safely: pure, no database, no app.

A template is a subject and a Markdown body with Jinja merge fields: `{{ lead.first_name |
default("there") }}`, `{{ company.name }}`, `{{ sender.name }}`, `{% if lead.title %}`.
It runs in Jinja's `ImmutableSandboxedEnvironment` with `StrictUndefined`, and tighter:

- the merge values are plain `Fields` (a name -> text mapping): never ORM rows, never the
  app's config; a field without a value is missing, so it needs a fallback (`default`);
- no globals (no `cycler`, `lipsum`, `joiner`, `namespace`; `range` bounded), a short
  allow-list of filters, only output, `if`, `for` and `set` (no macros, includes, blocks,
  imports), and no name or attribute starting with `_`: refused when the template is
  compiled, with the line;
- `*`, `**` and `+` are checked before they run (`'x' * 10**9` allocates nothing), every
  loop iteration and call ticks a deadline, and the output is counted as it streams: a
  template that runs too long or writes too much is stopped with a `TemplateProblem`;
- the body's Markdown becomes HTML once per template (the merge fields kept apart from it,
  then put back), sanitized; merge values are HTML-escaped into the HTML part and plain in
  the text part; a subject is one line (CR, LF and other controls become spaces), so no
  merge value ever becomes a header.

`compile_template` is the slow part (Markdown, sanitizing, Jinja's compiler), done once per
template version; `Compiled.render(context)` is the per-lead part.
"""

from __future__ import annotations

import operator
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import nh3
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, nodes, pass_eval_context
from jinja2.environment import Template
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.filters import FILTERS as DEFAULT_FILTERS
from jinja2.filters import do_replace, sync_do_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markdown_it import MarkdownIt

MAX_SOURCE = 1_000_000  # characters of a body (a 1 MB template is allowed, not more)
MAX_SUBJECT_SOURCE = 2_000
MAX_SUBJECT = 250  # characters of a rendered subject
MAX_OUTPUT = 2_000_000  # characters a render may write, each part
MAX_RANGE = 1_000
MAX_TAGS = 2_000  # merge fields and tags in a part
MAX_POWER = 64  # the largest exponent `**` takes
RENDER_SECONDS = 0.25  # a render's time, all parts together

FILTERS = (
    "default",
    "d",
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "truncate",
    "replace",
    "first",
    "last",
    "length",
    "join",
    "round",
    "int",
)
# The nodes a template may hold: output, conditions, loops and plain expressions.
_ALLOWED = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.For,
    nodes.Assign,
    nodes.Name,
    nodes.Const,
    nodes.Getattr,
    nodes.Getitem,
    nodes.Slice,
    nodes.Filter,
    nodes.Test,
    nodes.Compare,
    nodes.Operand,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Concat,
    nodes.CondExpr,
    nodes.List,
    nodes.Tuple,
    nodes.Dict,
    nodes.Pair,
    nodes.Keyword,
    nodes.Call,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Pow,
)
_WHAT: dict[type[nodes.Node], str] = {
    nodes.Macro: "macros",
    nodes.CallBlock: "call blocks",
    nodes.Include: "includes",
    nodes.Import: "imports",
    nodes.FromImport: "imports",
    nodes.Extends: "extends",
    nodes.Block: "blocks",
    nodes.FilterBlock: "filter blocks",
    nodes.With: "with blocks",
    nodes.AssignBlock: "set blocks",
    nodes.Scope: "scopes",
}


class TemplateProblem(ValueError):
    """What is wrong with a template or its render for one lead: `part` (subject or
    body), `line` (1-based, when known) and a message a marketer can act on."""

    def __init__(self, message: str, part: str = "", line: int | None = None) -> None:
        self.part, self.line, self.reason = part, line, message
        where = part + (f" line {line}" if line else "")
        super().__init__(f"{where}: {message}" if where else message)

    @property
    def message(self) -> str:
        return str(self)


class Fields(Mapping[str, str]):
    """Merge values of one kind (`lead`, `company`, `sender`): text by name. A field that
    is known but has no value is missing (a fallback is needed); an unknown one is named as
    such. It exposes nothing else: no attributes, no methods a template could reach."""

    __slots__ = ("_known", "_name", "_values")

    def __str__(self) -> str:
        return f"[{self._name} fields]"

    __repr__ = __str__

    def __init__(self, name: str, values: Mapping[str, Any], known: tuple[str, ...]) -> None:
        self._name = name
        self._known = known
        self._values = {k: str(v) for k, v in values.items() if v not in (None, "")}

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def missing(self, key: str) -> str:
        if key in self._known:
            field = f"{self._name}.{key}"
            example = "{{ " + field + ' | default("...") }}'
            return f"{field} is missing for this lead: give a fallback, e.g. {example}"
        known = ", ".join(self._known)
        return f"{self._name}.{key} is not a merge field; {self._name} has {known}"


LEAD_FIELDS = (
    "first_name",
    "last_name",
    "name",
    "email",
    "title",
    "phone",
    "timezone",
    "source",
    "stage",
    "deal_value",
    "currency",
    "budget",
    "authority",
    "need",
    "timeline",
    "owner_name",
)
COMPANY_FIELDS = ("name", "domain", "website", "industry", "size")
SENDER_FIELDS = ("name", "first_name", "email")


def merge_context(
    lead: Mapping[str, Any], company: Mapping[str, Any], sender: Mapping[str, Any]
) -> dict[str, Fields]:
    return {
        "lead": Fields("lead", lead, LEAD_FIELDS),
        "company": Fields("company", company, COMPANY_FIELDS),
        "sender": Fields("sender", sender, SENDER_FIELDS),
    }


class _Budget:
    """A render's deadline, ticked by loops and calls, and the characters its expressions
    made (`*`, `+`, `replace`, `join`): a render builds at most twice what it may write."""

    __slots__ = ("allocated", "deadline", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.allocated = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateProblem(f"the template took longer than {self.seconds:g} s to render")

    def charge(self, size: int) -> None:
        self.allocated += size
        if size > MAX_OUTPUT or self.allocated > 2 * MAX_OUTPUT:
            raise SecurityError(f"that would make more than {MAX_OUTPUT:,} characters")


class MergeUndefined(StrictUndefined):
    """Strict, but false in a test: `{% if lead.title %}` works, `{{ lead.title }}` for a
    lead without one is a TemplateProblem."""

    def __bool__(self) -> bool:  # type: ignore[override]
        return False


class _Stop(Exception):
    """Raised inside a render to stop it; carries the problem past Jinja's handlers."""

    def __init__(self, problem: TemplateProblem) -> None:
        self.problem = problem


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise SecurityError(f"range() gives at most {MAX_RANGE} numbers")
    return numbers


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 0


class MergeEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, narrowed: see the module's docstring."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(
            undefined=MergeUndefined,
            autoescape=autoescape,
            auto_reload=False,
            cache_size=0,
            keep_trailing_newline=True,
        )
        self.globals.clear()
        self.globals["range"] = _bounded_range
        self.filters = {name: DEFAULT_FILTERS[name] for name in FILTERS}
        self.filters["replace"] = self._bounded_replace()
        self.filters["join"] = self._bounded_join()
        self.budget: _Budget | None = None

    def _charge(self, size: int) -> None:
        if self.budget is not None:
            self.budget.charge(size)
        elif size > MAX_OUTPUT:
            raise SecurityError(f"that would make more than {MAX_OUTPUT:,} characters")

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, int | float) and abs(right) > MAX_POWER:
                raise SecurityError(f"** takes an exponent of at most {MAX_POWER}")
            if isinstance(left, int) and left.bit_length() * abs(int(right)) > 4096:
                raise SecurityError("that number would be too large")
            return operator.pow(left, right)
        if operator_ == "%":
            if isinstance(left, str | bytes):
                raise SecurityError("% formatting is not allowed; write the merge fields")
            return operator.mod(left, right)
        if operator_ == "*":
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > 4096:
                    raise SecurityError("that number would be too large")
                return operator.mul(left, right)
            for seq, times in ((left, right), (right, left)):
                if _size(seq) and isinstance(times, int):
                    self._charge(_size(seq) * max(times, 0))
            return operator.mul(left, right)
        self._charge(_size(left) + _size(right))
        return operator.add(left, right)

    def _bounded_replace(self) -> Callable[..., Any]:
        @pass_eval_context
        def replace(ctx: Any, value: Any, old: str, new: str, count: int | None = None) -> Any:
            text = str(value)
            hits = text.count(old) if old else len(text) + 1
            self._charge(len(text) + hits * max(len(str(new)) - len(old), 0))
            return do_replace(ctx, value, old, new, count)

        return replace

    def _bounded_join(self) -> Callable[..., Any]:
        @pass_eval_context
        def join(ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
            items = list(value)
            self._charge(len(str(d)) * len(items) + sum(_size(i) for i in items))
            return sync_do_join(ctx, items, d, attribute)

        return join

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if self.budget is not None:
            self.budget.tick()
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Fields):
            return self.getitem(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Fields):
            if isinstance(argument, str) and argument in obj:
                return obj[argument]
            return self.undefined(hint=obj.missing(str(argument)), obj=obj, name=str(argument))
        return super().getitem(obj, argument)


def _ticking(budget_of: Callable[[], _Budget | None]) -> Callable[[Any], Iterator[Any]]:
    def loop(items: Any) -> Iterator[Any]:
        for item in items:
            budget = budget_of()
            if budget is not None:
                budget.tick()
            yield item

    return loop


TICK = "tick_loop"  # the loop wrapper's name in compiled templates: no template can say it


def _check(tree: nodes.Template, part: str) -> None:
    for node in tree.find_all(nodes.Node):
        if isinstance(node, nodes.Name | nodes.Getattr):
            name = getattr(node, "name", None) or getattr(node, "attr", None)
            if isinstance(name, str) and (name.startswith("_") or name in (TICK, "self")):
                raise TemplateProblem(f"{name} is not allowed here", part, node.lineno)
        if (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            raise TemplateProblem("no keys starting with _", part, node.lineno)
        if isinstance(node, nodes.Filter | nodes.Test) and node.name == TICK:
            raise TemplateProblem(f"{node.name} is not allowed", part, node.lineno)
        if isinstance(node, nodes.Filter) and node.name not in FILTERS:
            raise TemplateProblem(
                f"the filter {node.name!r} is not allowed; use {', '.join(FILTERS)}",
                part,
                node.lineno,
            )
        if isinstance(node, nodes.Call) and not (
            isinstance(node.node, nodes.Name) and node.node.name == "range"
        ):
            raise TemplateProblem("templates call no functions but range()", part, node.lineno)
        if not isinstance(node, _ALLOWED):
            what = _WHAT.get(type(node), f"{type(node).__name__} tags")
            raise TemplateProblem(f"{what} are not allowed in a template", part, node.lineno)
    for loop in tree.find_all(nodes.For):  # every iteration ticks the deadline
        loop.iter = nodes.Call(
            nodes.Name(TICK, "load", lineno=loop.lineno),
            [loop.iter],
            [],
            None,
            None,
            lineno=loop.lineno,
        )


def _compile(env: MergeEnvironment, source: str, part: str) -> Template:
    try:
        tree = env.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.message or "syntax error", part, exc.lineno) from None
    _check(tree, part)
    try:
        code = env.compile(tree, name=part, filename=part)
    except TemplateError as exc:
        raise TemplateProblem(str(exc), part) from None
    names = env.make_globals({TICK: _ticking(lambda: env.budget)})
    template = env.template_class.from_code(env, code, names)
    return template


# Merge-field tags, kept apart from the Markdown: placeholders of letters and digits,
# which Markdown and the sanitizer leave alone, put back in the HTML afterwards.
_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_HOLE = re.compile(r"MERGEHOLE(\d+)X")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def _html_source(body: str) -> str:
    tags: list[str] = []

    def hole(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        return f"MERGEHOLE{len(tags) - 1}X"

    html = _markdown.render(_TAG.sub(hole, body))
    html = nh3.clean(
        html,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer",
    )

    def unhole(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return tags[index] if index < len(tags) else match.group(0)

    # The tags' own text was escaped by Markdown (quotes, <, &): put back as written.
    return _HOLE.sub(unhole, html)


_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """A header-safe line: controls (CR and LF first) become one space, then trimmed."""
    flat = " ".join(_CONTROLS.sub(" ", text).split())
    flat = "".join(ch for ch in flat if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp"))
    return flat[:limit].rstrip()


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@dataclass
class Compiled:
    subject: Template
    html: Template
    text: Template
    env_html: MergeEnvironment
    env_text: MergeEnvironment
    seconds: float = RENDER_SECONDS
    max_output: int = MAX_OUTPUT

    def render(self, context: Mapping[str, Any]) -> Rendered:
        """The message for one lead, or TemplateProblem naming the field and line."""
        budget = _Budget(self.seconds)
        self.env_html.budget = self.env_text.budget = budget
        try:
            subject = one_line(self._run(self.subject, context, "subject", budget))
            text = self._run(self.text, context, "body", budget)
            html = self._run(self.html, context, "body", budget)
        finally:
            self.env_html.budget = self.env_text.budget = None
        if not subject:
            raise TemplateProblem("the subject is empty for this lead", "subject")
        return Rendered(subject, html, text)

    def _run(
        self, template: Template, context: Mapping[str, Any], part: str, budget: _Budget
    ) -> str:
        out: list[str] = []
        size = 0
        try:
            for chunk in template.generate(context):
                size += len(chunk)
                if size > self.max_output:
                    raise TemplateProblem(
                        f"the {part} would be longer than {self.max_output:,} characters", part
                    )
                budget.tick()
                out.append(chunk)
        except TemplateProblem as exc:
            if not exc.part:
                raise TemplateProblem(exc.reason, part, _line(exc, part)) from None
            raise
        except UndefinedError as exc:
            message = str(exc.message)
            unknown = _UNKNOWN.fullmatch(message)
            if unknown:
                message = f"{unknown.group(1)} is not a merge field; use lead, company or sender"
            raise TemplateProblem(message, part, _line(exc, part)) from None
        except SecurityError as exc:
            raise TemplateProblem(f"not allowed: {exc}", part, _line(exc, part)) from None
        except RecursionError:
            raise TemplateProblem("the template nests too deep", part) from None
        except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise TemplateProblem(f"{type(exc).__name__}: {exc}", part, _line(exc, part)) from None
        return "".join(out)


_UNKNOWN = re.compile(r"'(\w+)' is undefined")


def _line(exc: BaseException, part: str) -> int | None:
    """The template line the error came from: Jinja's compiled code maps back to it."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == part:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def compile_template(subject: str, body: str, *, seconds: float = RENDER_SECONDS) -> Compiled:
    """Check and compile a subject and a Markdown body, or TemplateProblem (with the line)."""
    if len(subject) > MAX_SUBJECT_SOURCE:
        raise TemplateProblem(f"at most {MAX_SUBJECT_SOURCE:,} characters", "subject")
    if len(body) > MAX_SOURCE:
        raise TemplateProblem(f"at most {MAX_SOURCE:,} characters", "body")
    if not subject.strip():
        raise TemplateProblem("a template needs a subject", "subject")
    for part, source in (("subject", subject), ("body", body)):
        if len(_TAG.findall(source)) > MAX_TAGS:  # Jinja's compiler is slow past that
            raise TemplateProblem(f"at most {MAX_TAGS:,} merge fields and tags", part)
    env_text = MergeEnvironment(autoescape=False)
    env_html = MergeEnvironment(autoescape=True)
    subject_t = _compile(env_text, subject, "subject")
    text_t = _compile(env_text, body, "body")
    html_t = _compile(env_html, _html_source(body), "body")
    return Compiled(subject_t, html_t, text_t, env_html, env_text, seconds)


def render(subject: str, body: str, context: Mapping[str, Any]) -> Rendered:
    """Compile and render in one go (a preview); a campaign compiles once, renders often."""
    return compile_template(subject, body).render(context)
