"""Unit tests for the AIP-160 filter parser in ``domain.filters``."""

from __future__ import annotations

import dataclasses
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.filters import And, Comparison, FilterSyntaxError, Node, Not, Or, parse_filter

# --------------------------------------------------------------------------- helpers


def cmp(field: str, op: str, value: str, position: int, *, quoted: bool = False) -> Comparison:
    return Comparison(field=field, op=op, value=value, quoted=quoted, position=position)


def strip_positions(node: Node) -> Node:
    """Return ``node`` with every ``Comparison.position`` set to 0."""
    if isinstance(node, Comparison):
        return dataclasses.replace(node, position=0)
    if isinstance(node, Not):
        return Not(strip_positions(node.operand))
    if isinstance(node, And):
        return And(strip_positions(node.left), strip_positions(node.right))
    return Or(strip_positions(node.left), strip_positions(node.right))


def c(field: str, value: str = "1") -> Comparison:
    """Position-less bare ``field = value`` comparison, for shape tests."""
    return cmp(field, "=", value, 0)


def shape(text: str) -> Node | None:
    node = parse_filter(text)
    return None if node is None else strip_positions(node)


def syntax_error(text: str, **limits: int) -> FilterSyntaxError:
    with pytest.raises(FilterSyntaxError) as caught:
        parse_filter(text, **limits)
    return caught.value


# --------------------------------------------------------------------------- the examples


def test_has_with_wildcard_string() -> None:
    assert parse_filter('display_name : "*acme*"') == cmp(
        "display_name", ":", "*acme*", 0, quoted=True
    )


def test_single_quoted_equality() -> None:
    assert parse_filter("external_id = 'acme-corp'") == cmp(
        "external_id", "=", "acme-corp", 0, quoted=True
    )


def test_timestamp_and_not() -> None:
    text = "create_time > '2024-01-01T00:00:00Z' AND NOT account_type = 'individual'"
    assert parse_filter(text) == And(
        cmp("create_time", ">", "2024-01-01T00:00:00Z", 0, quoted=True),
        Not(cmp("account_type", "=", "individual", text.index("account_type"), quoted=True)),
    )


# --------------------------------------------------------------------------- restrictions


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">=", ":"])
def test_every_comparator_with_and_without_spaces(op: str) -> None:
    assert parse_filter(f"age {op} 42") == cmp("age", op, "42", 0)
    assert parse_filter(f"age{op}42") == cmp("age", op, "42", 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a = 42", "42"),
        ("a = 4.5e3", "4.5e3"),
        ("a = -5", "-5"),
        ("a=-5", "-5"),
        ("a = true", "true"),
        ("a = individual", "individual"),
        ("a = *", "*"),
        ("a = x@example.com", "x@example.com"),
        ("a = café", "café"),
        ("a = and", "and"),
        ("a = not", "not"),
        ("a = NOTE", "NOTE"),
    ],
)
def test_bare_values_are_kept_literally(text: str, value: str) -> None:
    assert parse_filter(text) == cmp("a", "=", value, 0)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('a = "two words"', "two words"),
        ("a = ''", ""),
        ('a = ""', ""),
        ('a = "AND"', "AND"),
        ('a = "back\\\\slash"', "back\\slash"),
        ('a = "say \\"hi\\""', 'say "hi"'),
        ("a = 'it\\'s'", "it's"),
        ("a = 'say \"hi\"'", 'say "hi"'),
        ('a = "it\'s"', "it's"),
        ('a = "it\\\'s"', "it's"),
        ('a = "line\nbreak\ttab"', "line\nbreak\ttab"),
        ('a = "bell\x07"', "bell\x07"),
        ('a = "(x) = y : z"', "(x) = y : z"),
    ],
)
def test_quoted_values_are_unescaped(text: str, value: str) -> None:
    assert parse_filter(text) == cmp("a", "=", value, 0, quoted=True)


@pytest.mark.parametrize(
    "field",
    ["display_name", "custom_fields.tier", "custom_fields.my-key", "custom_fields.2fa", "_x.y.z"],
)
def test_field_paths(field: str) -> None:
    assert parse_filter(f"{field} = 1") == cmp(field, "=", "1", 0)


def test_position_is_offset_of_field() -> None:
    assert parse_filter("  \t a = 1") == cmp("a", "=", "1", 4)
    assert parse_filter("-a = 1") == Not(cmp("a", "=", "1", 1))


@pytest.mark.parametrize("text", ["", " ", "\t\r\n  "])
def test_empty_filter_is_none(text: str) -> None:
    assert parse_filter(text) is None


def test_tabs_and_newlines_are_whitespace() -> None:
    assert shape("a\t=\n1\r\nAND\tb = 2") == And(c("a"), c("b", "2"))


# --------------------------------------------------------------------------- injection


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ('email = "x\' OR 1=1 --"', "email", "x' OR 1=1 --"),
        (
            'display_name = "\'; DROP TABLE customers; --"',
            "display_name",
            "'; DROP TABLE customers; --",
        ),
        ("display_name = ') OR (1 = 1'", "display_name", ") OR (1 = 1"),
    ],
)
def test_injection_looking_strings_are_single_comparisons(
    text: str, field: str, value: str
) -> None:
    assert parse_filter(text) == cmp(field, "=", value, 0, quoted=True)


def test_unquoted_injection_attempt_is_rejected() -> None:
    error = syntax_error("email = x' OR 1=1 --")
    assert (error.message, error.position) == ("unterminated string", 9)


# --------------------------------------------------------------------------- boolean logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1 AND b=1", And(c("a"), c("b"))),
        ("a=1 OR b=1", Or(c("a"), c("b"))),
        ("a=1 b=1", And(c("a"), c("b"))),
        ("NOT a=1", Not(c("a"))),
        ("-a=1", Not(c("a"))),
        ("NOT(a=1)", Not(c("a"))),
        ("-(a=1 OR b=1)", Not(Or(c("a"), c("b")))),
        ("NOT NOT a=1", Not(Not(c("a")))),
        ("--a=1", Not(Not(c("a")))),
        ("-NOT a=1", Not(Not(c("a")))),
        ("((a=1))", c("a")),
        ("a=1 NOT b=1", And(c("a"), Not(c("b")))),
        ("a=1 -b=1", And(c("a"), Not(c("b")))),
        ("a=1 (b=1)", And(c("a"), c("b"))),
    ],
)
def test_operators(text: str, expected: Node) -> None:
    assert shape(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # OR binds tighter than AND (AIP-160), and juxtaposition is AND.
        ("a=1 AND b=1 OR c=1", And(c("a"), Or(c("b"), c("c")))),
        ("a=1 OR b=1 AND c=1", And(Or(c("a"), c("b")), c("c"))),
        ("a=1 b=1 OR c=1", And(c("a"), Or(c("b"), c("c")))),
        ("a=1 OR b=1 c=1", And(Or(c("a"), c("b")), c("c"))),
        ("(a=1 AND b=1) OR c=1", Or(And(c("a"), c("b")), c("c"))),
        # NOT applies to a single term only.
        ("NOT a=1 OR b=1", Or(Not(c("a")), c("b"))),
        ("NOT a=1 AND b=1", And(Not(c("a")), c("b"))),
        ("-a=1 OR b=1", Or(Not(c("a")), c("b"))),
    ],
)
def test_precedence(text: str, expected: Node) -> None:
    assert shape(text) == expected


def test_chains_are_balanced() -> None:
    a, b, cc, d, e = (c(name) for name in "abcde")
    assert shape("a=1 AND b=1 AND c=1") == And(And(a, b), cc)
    assert shape("a=1 b=1 c=1 d=1") == And(And(a, b), And(cc, d))
    assert shape("a=1 OR b=1 OR c=1 OR d=1 OR e=1") == Or(Or(Or(a, b), cc), Or(d, e))


def test_long_chain_stays_shallow() -> None:
    node = parse_filter(" AND ".join(f"f{i} = {i}" for i in range(500)), max_length=10_000)
    assert node is not None
    assert tree_depth(node) <= 10


def test_keywords_are_case_sensitive() -> None:
    error = syntax_error("a = 1 and b = 2")
    assert (error.message, error.position) == ("missing comparator after field 'and'", 10)


def tree_depth(node: Node) -> int:
    """Depth of ``node``, computed without recursion."""
    deepest, pending = 0, [(node, 1)]
    while pending:
        current, depth = pending.pop()
        deepest = max(deepest, depth)
        if isinstance(current, Not):
            pending.append((current.operand, depth + 1))
        elif isinstance(current, And | Or):
            pending += [(current.left, depth + 1), (current.right, depth + 1)]
    return deepest


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        # unterminated strings
        ('a = "abc', 4, "unterminated string"),
        ("a = 'abc\\'", 4, "unterminated string"),
        ('a = "abc\\', 4, "unterminated string"),
        ("a = \"abc'", 4, "unterminated string"),
        (
            'a = "x\\n"',
            6,
            (
                "invalid escape sequence: backslash followed by 'n'"
                " (only \\\\, \\' and \\\" are allowed)"
            ),
        ),
        # unexpected tokens
        ("AND a = 1", 0, "unexpected 'AND'"),
        ("OR a = 1", 0, "unexpected 'OR'"),
        ("a = 1 AND OR b = 2", 10, "unexpected 'OR'"),
        ("a = 1 OR AND b = 2", 9, "unexpected 'AND'"),
        ("= 1", 0, "unexpected '='"),
        ("a = 1 = 2", 6, "unexpected '='"),
        ('a = 1 "x"', 6, "unexpected string '\"x\"'"),
        ('"a" = 1', 0, "unexpected string '\"a\"'"),
        ("a ! 1", 2, "unexpected character '!'"),
        ("a = b\\c", 5, "unexpected backslash outside a string"),
        ("- a = 1", 0, "'-' must be directly followed by a term"),
        # invalid field names
        ("1a = 2", 0, "invalid field name '1a'"),
        ("a..b = 1", 0, "invalid field name 'a..b'"),
        ("a. = 1", 0, "invalid field name 'a.'"),
        ("x = 1 .a = 1", 6, "invalid field name '.a'"),
        ("a/b = 1", 0, "invalid field name 'a/b'"),
        # missing comparator
        ("a", 1, "missing comparator after field 'a'"),
        ("a b = 1", 2, "missing comparator after field 'a'"),
        ("a = 1 AND b", 11, "missing comparator after field 'b'"),
        ("(a) = 1", 2, "missing comparator after field 'a'"),
        ("a 'x'", 2, "missing comparator after field 'a'"),
        # missing value
        ("a =", 3, "missing value after '='"),
        ("a = )", 4, "missing value after '='"),
        ("(a = )", 5, "missing value after '='"),
        ("a = AND b = 1", 4, "missing value after '='"),
        ("a : NOT", 4, "missing value after ':'"),
        ("a = = 1", 4, "missing value after '='"),
        ("a != (b)", 5, "missing value after '!='"),
        # unbalanced parentheses
        ("(a = 1", 0, "unbalanced parentheses: '(' is never closed"),
        ("((a = 1)", 0, "unbalanced parentheses: '(' is never closed"),
        ("(a = 1) (", 8, "unbalanced parentheses: '(' is never closed"),
        ("a = 1)", 5, "unbalanced parentheses: ')' has no matching '('"),
        (") a = 1", 0, "unbalanced parentheses: ')' has no matching '('"),
        ("(a = 1))", 7, "unbalanced parentheses: ')' has no matching '('"),
        # empty parentheses
        ("()", 0, "empty parentheses"),
        ("a = 1 AND ( )", 10, "empty parentheses"),
        ("NOT ()", 4, "empty parentheses"),
        # trailing operators
        ("a = 1 AND", 6, "trailing operator 'AND'"),
        ("a = 1 OR", 6, "trailing operator 'OR'"),
        ("NOT", 0, "trailing operator 'NOT'"),
        ("a = 1 AND NOT", 10, "trailing operator 'NOT'"),
        ("a = 1 -", 6, "trailing operator '-'"),
        ("(a = 1 OR)", 7, "trailing operator 'OR'"),
        ("(a = 1 AND -)", 11, "trailing operator '-'"),
        # control characters outside quotes, NUL anywhere
        ("a = 1\x00", 5, "NUL character is not allowed"),
        ('a = "x\x00"', 6, "NUL character is not allowed"),
        ("a\x07= 1", 1, "control character U+0007 is not allowed"),
        ("a = 1 \x0b", 6, "control character U+000B is not allowed"),
        ("a = 1\x7f", 5, "control character U+007F is not allowed"),
        ("a = x\x85", 5, "control character U+0085 is not allowed"),
        ("\x1b[31m", 0, "control character U+001B is not allowed"),
    ],
)
def test_syntax_errors(text: str, position: int, message: str) -> None:
    error = syntax_error(text)
    assert (error.message, error.position) == (message, position)
    assert str(error) == f"{message} at position {position}"


def test_first_error_in_text_order_wins() -> None:
    assert syntax_error(') a = "unterminated').position == 0


def test_error_is_a_value_error_and_pickles() -> None:
    error = syntax_error("a = 1)")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.message, copy.position, str(copy)) == (error.message, 5, str(error))


def test_text_longer_than_max_length() -> None:
    error = syntax_error("a" * 2001)
    assert (error.message, error.position) == ("filter is longer than 2000 characters", 2000)
    assert parse_filter("a = " + "x" * 1996) is not None
    assert syntax_error("a = 12345", max_length=8).position == 8


def test_nesting_limit_parentheses() -> None:
    ok = "(" * 32 + "a = 1" + ")" * 32
    assert parse_filter(ok) == cmp("a", "=", "1", 32)
    error = syntax_error("(" * 33 + "a = 1" + ")" * 33)
    assert (error.message, error.position) == ("nesting deeper than 32 levels", 32)


def test_nesting_limit_counts_negations() -> None:
    assert tree_depth(parse_filter("NOT " * 32 + "a = 1") or c("x")) == 33
    error = syntax_error("NOT " * 33 + "a = 1")
    assert (error.message, error.position) == ("nesting deeper than 32 levels", 128)
    assert syntax_error("NOT (-(a = 1))", max_depth=2).position == 5


def test_deep_input_never_raises_recursion_error() -> None:
    deep = "(" * 5000 + "a = 1" + ")" * 5000
    assert syntax_error(deep, max_length=20_000).position == 32
    assert syntax_error("-" * 5000 + "a=1", max_length=20_000).position == 32
    # Even with the limit lifted the parser is iterative.
    limits = {"max_length": 50_000, "max_depth": 100_000}
    assert parse_filter(deep, **limits) == cmp("a", "=", "1", 5000)
    negated = parse_filter("NOT " * 5000 + "a = 1", **limits)
    assert negated is not None and tree_depth(negated) == 5001


# --------------------------------------------------------------------------- properties

GRAMMAR_ALPHABET = st.sampled_from(
    [*"abz_019.-*=!<>:() \t\n'\"\\", "AND", "OR", "NOT", " AND ", " OR ", "\x00", "\x07", "é"]
)


def check_total(text: str, max_length: int = 2000, max_depth: int = 32) -> None:
    """``parse_filter`` returns a node/None or raises a well-formed FilterSyntaxError."""
    try:
        node = parse_filter(text, max_length=max_length, max_depth=max_depth)
    except FilterSyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert str(error) == f"{error.message} at position {error.position}"
    else:
        assert node is None or isinstance(node, Comparison | And | Or | Not)


@given(st.text())
def test_arbitrary_text_only_raises_filter_syntax_error(text: str) -> None:
    check_total(text)


@given(
    st.lists(GRAMMAR_ALPHABET, max_size=60).map("".join),
    st.integers(min_value=0, max_value=80),
    st.integers(min_value=0, max_value=6),
)
def test_grammar_like_text_only_raises_filter_syntax_error(
    text: str, max_length: int, max_depth: int
) -> None:
    check_total(text, max_length, max_depth)


KEYWORDS = {"AND", "OR", "NOT"}
SPACE = st.sampled_from(["", " ", "  ", "\t", "\n"])
GAP = st.sampled_from([" ", "  ", "\n", " \t "])
FIELDS = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,6}(\.[A-Za-z0-9_-]{1,6}){0,2}", fullmatch=True)
WORD_CHARS = st.characters(
    exclude_categories=("Cc", "Cs"), exclude_characters=" \t\r\n()\"'\\=!<>:"
)
WORDS = st.text(WORD_CHARS, min_size=1, max_size=8).filter(lambda w: w not in KEYWORDS)
STRING_CHARS = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
STRINGS = st.text(STRING_CHARS, max_size=8)


def quote(value: str, mark: str) -> str:
    return mark + value.replace("\\", "\\\\").replace(mark, "\\" + mark) + mark


@st.composite
def comparisons(draw: st.DrawFn) -> tuple[Node, str]:
    field, op = draw(FIELDS), draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", ":"]))
    quoted = draw(st.booleans())
    if quoted:
        value = draw(STRINGS)
        rendered = quote(value, draw(st.sampled_from(["'", '"'])))
    else:
        value = rendered = draw(WORDS)
    text = f"{field}{draw(SPACE)}{op}{draw(SPACE)}{rendered}"
    return Comparison(field, op, value, quoted, 0), text


def needs_parens(child: Node, parent: type[Node]) -> bool:
    """Whether ``child`` must be parenthesised to parse back to the same tree."""
    if parent is Not:
        return isinstance(child, And | Or)
    if parent is Or:
        return isinstance(child, And | Or)
    return isinstance(child, And)  # OR binds tighter than AND, so no parens for Or


def operand(draw: st.DrawFn, child: tuple[Node, str], parent: type[Node]) -> str:
    node, text = child
    if needs_parens(node, parent) or draw(st.booleans()):
        return f"({draw(SPACE)}{text}{draw(SPACE)})"
    return text


@st.composite
def negations(draw: st.DrawFn, children: st.SearchStrategy[tuple[Node, str]]) -> tuple[Node, str]:
    child = draw(children)
    text = operand(draw, child, Not)
    prefix = draw(st.sampled_from(["NOT" + draw(GAP), "-"] + (["NOT"] if text[0] == "(" else [])))
    return Not(child[0]), prefix + text


@st.composite
def binaries(draw: st.DrawFn, children: st.SearchStrategy[tuple[Node, str]]) -> tuple[Node, str]:
    is_or = draw(st.booleans())
    parent = Or if is_or else And
    left, right = draw(children), draw(children)
    if is_or:
        joiner = draw(GAP) + "OR" + draw(GAP)
    elif draw(st.booleans()):
        joiner = draw(GAP) + "AND" + draw(GAP)
    else:
        joiner = draw(GAP)  # juxtaposition is an implicit AND
    text = operand(draw, left, parent) + joiner + operand(draw, right, parent)
    node = Or(left[0], right[0]) if is_or else And(left[0], right[0])
    return node, text


def trees() -> st.SearchStrategy[tuple[Node, str]]:
    return st.recursive(
        comparisons(),
        lambda children: st.one_of(negations(children), binaries(children)),
        max_leaves=12,
    )


@given(trees(), SPACE, SPACE)
def test_round_trip(tree: tuple[Node, str], before: str, after: str) -> None:
    node, text = tree
    parsed = parse_filter(before + text + after, max_length=100_000, max_depth=1000)
    assert parsed is not None
    assert strip_positions(parsed) == node
