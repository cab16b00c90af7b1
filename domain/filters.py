"""Parser for AIP-160 style ``filter`` strings (pure Python, standard library only).

The parser turns text into a small immutable AST; it never looks at the schema, so field
names and values are *not* validated here (that is the compiler's job).

Grammar (a subset of https://google.aip.dev/160)::

    filter      := [expression]
    expression  := factor { [ "AND" ] factor }     # "AND" or plain juxtaposition
    factor      := term { "OR" term }              # OR binds TIGHTER than AND
    term        := "NOT" term | "-" term | simple  # "-" must touch its operand
    simple      := restriction | "(" expression ")"
    restriction := field comparator arg
    comparator  := "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
    field       := name { "." key }                # e.g. display_name, custom_fields.tier
    name        := [A-Za-z_] [A-Za-z0-9_-]*
    key         := [A-Za-z0-9_-]+
    arg         := string | word
    string      := '"' ... '"' | "'" ... "'"       # escapes: \\  \'  \"  (nothing else)
    word        := run of characters other than whitespace, ( ) " ' \\ = ! < > : and
                   control characters; "AND", "OR" and "NOT" are keywords, not words

So ``a AND b OR c`` means ``a AND (b OR c)`` and ``a b`` means ``a AND b``.  Keywords are
case-sensitive: ``and`` is an ordinary word.  Whitespace is space, tab, CR and LF; any
other control character is rejected outside quotes, and NUL is rejected everywhere.
A word directly after a comparator may start with ``-`` (``balance > -5``); ``NOT(...)``
without a space is accepted.

Values keep their literal text (timestamps, numbers and booleans are just strings here);
``Comparison.quoted`` records whether the value was quoted.  Runs of the same operator
are built as balanced binary trees (``a AND b AND c AND d`` is
``And(And(a, b), And(c, d))``), which is equivalent because AND and OR are associative
and keeps the tree shallow.  Parsing is iterative, so deep input yields a
``FilterSyntaxError`` (nesting limit) rather than a ``RecursionError``.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "And",
    "Comparison",
    "FilterSyntaxError",
    "Node",
    "Not",
    "Or",
    "parse_filter",
]


@dataclass(frozen=True)
class Comparison:
    """``field op value``; ``position`` is the 0-based offset of the field in the text."""

    field: str
    op: str
    value: str
    quoted: bool
    position: int


@dataclass(frozen=True)
class And:
    left: Node
    right: Node


@dataclass(frozen=True)
class Or:
    left: Node
    right: Node


@dataclass(frozen=True)
class Not:
    operand: Node


Node: TypeAlias = Comparison | And | Or | Not


class FilterSyntaxError(ValueError):
    """A filter could not be parsed; ``position`` is a 0-based character offset."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position

    def __reduce__(self) -> tuple[type[FilterSyntaxError], tuple[str, int]]:
        return (type(self), (self.message, self.position))


# --------------------------------------------------------------------------- tokens


class _Kind(enum.Enum):
    WORD = "word"
    STRING = "string"
    COMPARATOR = "comparator"
    LPAREN = "("
    RPAREN = ")"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    MINUS = "-"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _Kind
    value: str  # unescaped text for strings, the source text otherwise
    raw: str  # exact source text
    start: int

    @property
    def end(self) -> int:
        return self.start + len(self.raw)


_WHITESPACE = frozenset(" \t\r\n")
_COMPARATORS = ("<=", ">=", "!=", "=", "<", ">", ":")  # two-character ones first
_KEYWORDS = {"AND": _Kind.AND, "OR": _Kind.OR, "NOT": _Kind.NOT}
_ESCAPES = frozenset("\\'\"")
_SHOWN = 30  # longest piece of user text quoted in an error message
_WORD_RE = re.compile(r"[^ \t\r\n()\"'\\=!<>:\x00-\x1f\x7f-\x9f]+")
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")


def _show(text: str) -> str:
    """Quote (and shorten) a piece of user text for an error message."""
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "...")


def _bad_char_message(char: str) -> str:
    if char == "\0":
        return "NUL character is not allowed"
    if char == "\\":
        return "unexpected backslash outside a string"
    if unicodedata.category(char) == "Cc":  # U+0000-U+001F, U+007F-U+009F
        return f"control character U+{ord(char):04X} is not allowed"
    return f"unexpected character {_show(char)}"


def _skip_whitespace(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def _read_string(text: str, start: int) -> _Token:
    """Read a quoted string whose opening quote is at ``start``."""
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == quote:
            return _Token(_Kind.STRING, "".join(chars), text[start : pos + 1], start)
        if char == "\0":
            raise FilterSyntaxError(_bad_char_message(char), pos)
        if char == "\\":
            chars.append(_read_escape(text, pos, start))
            pos += 2
        else:
            chars.append(char)
            pos += 1
    raise FilterSyntaxError("unterminated string", start)


def _read_escape(text: str, pos: int, string_start: int) -> str:
    """Return the character escaped by the backslash at ``pos``."""
    if pos + 1 >= len(text):
        raise FilterSyntaxError("unterminated string", string_start)
    escaped = text[pos + 1]
    if escaped not in _ESCAPES:
        message = f"invalid escape sequence: backslash followed by {_show(escaped)}"
        raise FilterSyntaxError(message + " (only \\\\, \\' and \\\" are allowed)", pos)
    return escaped


def _read_token(text: str, pos: int, after_comparator: bool) -> _Token:
    char = text[pos]
    if char in "()":
        return _Token(_Kind.LPAREN if char == "(" else _Kind.RPAREN, char, char, pos)
    if char in "\"'":
        return _read_string(text, pos)
    if char == "-" and not after_comparator:
        return _Token(_Kind.MINUS, char, char, pos)
    for comparator in _COMPARATORS:
        if text.startswith(comparator, pos):
            return _Token(_Kind.COMPARATOR, comparator, comparator, pos)
    match = _WORD_RE.match(text, pos)
    if match is None:
        raise FilterSyntaxError(_bad_char_message(char), pos)
    word = match.group()
    return _Token(_KEYWORDS.get(word, _Kind.WORD), word, word, pos)


def _tokenize(text: str) -> Iterator[_Token]:
    """Yield tokens lazily (so errors come in text order), then END forever."""
    pos = 0
    after_comparator = False
    while True:
        pos = _skip_whitespace(text, pos)
        if pos >= len(text):
            token = _Token(_Kind.END, "", "", len(text))
        else:
            token = _read_token(text, pos, after_comparator)
        yield token
        after_comparator = token.kind is _Kind.COMPARATOR
        pos = token.end


class _TokenStream:
    def __init__(self, text: str) -> None:
        self._tokens = _tokenize(text)
        self._peeked: _Token | None = None

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = next(self._tokens)
        return self._peeked

    def next(self) -> _Token:
        token = self.peek()
        self._peeked = None
        return token


# --------------------------------------------------------------------------- parser


def _describe(token: _Token) -> str:
    if token.kind is _Kind.END:
        return "end of filter"
    if token.kind is _Kind.STRING:
        return f"string {_show(token.raw)}"
    return _show(token.raw)


def _unexpected(token: _Token) -> FilterSyntaxError:
    return FilterSyntaxError(f"unexpected {_describe(token)}", token.start)


def _chain(combine: Callable[[Node, Node], Node], items: Sequence[Node]) -> Node:
    """Combine ``items`` with a binary operator as a balanced tree."""
    if len(items) == 1:
        return items[0]
    middle = (len(items) + 1) // 2
    return combine(_chain(combine, items[:middle]), _chain(combine, items[middle:]))


@dataclass
class _Group:
    """A parenthesised expression (or the whole filter) being assembled."""

    opener: _Token | None  # the "(" token; None for the top level
    depth: int  # number of enclosing parentheses and negations
    factors: list[Node] = dataclasses.field(default_factory=list)  # operands of AND
    terms: list[Node] = dataclasses.field(default_factory=list)  # OR operands, current factor
    negations: int = 0  # NOT / "-" waiting for the next term
    operator: _Token | None = None  # AND / OR / NOT / "-" still waiting for its operand


class _Parser:
    """Iterative shift-reduce style parser: one explicit ``_Group`` per open parenthesis."""

    def __init__(self, text: str, max_depth: int) -> None:
        self._tokens = _TokenStream(text)
        self._max_depth = max_depth
        self._stack = [_Group(opener=None, depth=0)]
        self._expect_term = True

    @property
    def _group(self) -> _Group:
        return self._stack[-1]

    def parse(self) -> Node | None:
        if self._tokens.peek().kind is _Kind.END:
            return None
        while True:
            token = self._tokens.next()
            if token.kind is _Kind.END:
                return self._finish()
            if self._expect_term:
                self._on_term_token(token)
            else:
                self._on_operator_token(token)

    def _on_term_token(self, token: _Token) -> None:
        """Handle a token where a term must start."""
        if token.kind in (_Kind.NOT, _Kind.MINUS):
            self._negate(token)
        elif token.kind is _Kind.LPAREN:
            self._open_group(token)
        elif token.kind is _Kind.WORD:
            self._complete_term(self._restriction(token))
        elif token.kind is _Kind.RPAREN:
            self._close_group(token)
        else:
            raise _unexpected(token)

    def _on_operator_token(self, token: _Token) -> None:
        """Handle a token that follows a complete term."""
        if token.kind is _Kind.OR:
            self._group.operator = token
            self._expect_term = True
        elif token.kind is _Kind.AND:
            self._close_factor()
            self._group.operator = token
            self._expect_term = True
        elif token.kind is _Kind.RPAREN:
            self._close_group(token)
        elif token.kind in (_Kind.WORD, _Kind.NOT, _Kind.MINUS, _Kind.LPAREN):
            self._close_factor()  # juxtaposition is an implicit AND
            self._expect_term = True
            self._on_term_token(token)
        else:
            raise _unexpected(token)

    def _nested_depth(self, token: _Token) -> int:
        depth = self._group.depth + self._group.negations + 1
        if depth > self._max_depth:
            raise FilterSyntaxError(f"nesting deeper than {self._max_depth} levels", token.start)
        return depth

    def _negate(self, token: _Token) -> None:
        self._nested_depth(token)
        if token.kind is _Kind.MINUS:
            self._check_minus_touches_operand(token)
        self._group.negations += 1
        self._group.operator = token

    def _check_minus_touches_operand(self, minus: _Token) -> None:
        following = self._tokens.peek()
        if following.kind in (_Kind.END, _Kind.RPAREN):
            return  # reported as a trailing operator
        if following.start != minus.end:
            raise FilterSyntaxError("'-' must be directly followed by a term", minus.start)

    def _open_group(self, token: _Token) -> None:
        depth = self._nested_depth(token)
        if self._tokens.peek().kind is _Kind.RPAREN:
            raise FilterSyntaxError("empty parentheses", token.start)
        self._stack.append(_Group(opener=token, depth=depth))

    def _close_group(self, token: _Token) -> None:
        group = self._group
        if group.operator is not None:
            raise self._trailing_operator(group.operator)
        if group.opener is None:
            raise FilterSyntaxError("unbalanced parentheses: ')' has no matching '('", token.start)
        self._close_factor()
        self._stack.pop()
        self._complete_term(_chain(And, group.factors))

    def _finish(self) -> Node:
        group = self._group
        if group.operator is not None:
            raise self._trailing_operator(group.operator)
        if group.opener is not None:
            message = "unbalanced parentheses: '(' is never closed"
            raise FilterSyntaxError(message, group.opener.start)
        self._close_factor()
        return _chain(And, group.factors)

    @staticmethod
    def _trailing_operator(operator: _Token) -> FilterSyntaxError:
        return FilterSyntaxError(f"trailing operator {_show(operator.raw)}", operator.start)

    def _complete_term(self, node: Node) -> None:
        group = self._group
        for _ in range(group.negations):
            node = Not(node)
        group.negations = 0
        group.operator = None
        group.terms.append(node)
        self._expect_term = False

    def _close_factor(self) -> None:
        group = self._group
        group.factors.append(_chain(Or, group.terms))
        group.terms = []

    def _restriction(self, name: _Token) -> Comparison:
        if _FIELD_RE.fullmatch(name.value) is None:
            raise FilterSyntaxError(f"invalid field name {_show(name.value)}", name.start)
        comparator = self._tokens.next()
        if comparator.kind is not _Kind.COMPARATOR:
            message = f"missing comparator after field {_show(name.value)}"
            raise FilterSyntaxError(message, comparator.start)
        arg = self._tokens.next()
        if arg.kind not in (_Kind.WORD, _Kind.STRING):
            message = f"missing value after {_show(comparator.value)}"
            raise FilterSyntaxError(message, arg.start)
        quoted = arg.kind is _Kind.STRING
        return Comparison(name.value, comparator.value, arg.value, quoted, name.start)


def parse_filter(text: str, *, max_length: int = 2000, max_depth: int = 32) -> Node | None:
    """Parse an AIP-160 filter; return ``None`` for empty or whitespace-only text.

    Raises ``FilterSyntaxError`` (and nothing else) for any malformed string, including
    text longer than ``max_length`` characters or nested (parentheses plus NOT / "-")
    more than ``max_depth`` levels deep.
    """
    if len(text) > max_length:
        raise FilterSyntaxError(f"filter is longer than {max_length} characters", max_length)
    return _Parser(text, max_depth).parse()
