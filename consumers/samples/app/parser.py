"""A small expression language for pricing rules and a JSON settings loader.

Grammar: expr := term (('+' | '-') term)*, term := factor (('*' | '/') factor)*,
factor := NUMBER | NAME | STRING | '(' expr ')'. The parser recurses once per
nesting level, so deeply nested input produces deep, repetitive stacks.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal


class ParseError(SyntaxError):
    """The source text does not match the grammar."""


class EvaluationError(ArithmeticError):
    """A well-formed expression could not be evaluated."""


class ConfigError(Exception):
    """A settings document could not be loaded."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
        elif char.isdigit():
            start = index
            while index < len(source) and (
                source[index].isdigit() or source[index] == "."
            ):
                index += 1
            tokens.append(Token("number", source[start:index], start))
        elif char.isalpha() or char == "_":
            start = index
            while index < len(source) and (
                source[index].isalnum() or source[index] == "_"
            ):
                index += 1
            tokens.append(Token("name", source[start:index], start))
        elif char == '"':
            end = source.find('"', index + 1)
            if end < 0:
                raise ParseError(f"unterminated string starting at offset {index}")
            tokens.append(Token("string", source[index + 1 : end], index))
            index = end + 1
        elif char in "+-*/()":
            tokens.append(Token("op", char, index))
            index += 1
        else:
            raise ParseError(f"unexpected character {char!r} at offset {index}")
    tokens.append(Token("end", "", len(source)))
    return tokens


Node = tuple[str, object, object]


class Parser:
    def __init__(self, tokens: list[Token]):
        self._tokens = tokens
        self._index = 0

    def parse(self) -> Node:
        node = self.expression()
        self._expect("end")
        return node

    def expression(self) -> Node:
        node = self.term()
        while self._peek().text in ("+", "-"):
            operator = self._advance().text
            node = (operator, node, self.term())
        return node

    def term(self) -> Node:
        node = self.factor()
        while self._peek().text in ("*", "/"):
            operator = self._advance().text
            node = (operator, node, self.factor())
        return node

    def factor(self) -> Node:
        token = self._advance()
        if token.kind == "number":
            return ("number", Decimal(token.text), None)
        if token.kind == "name":
            return ("name", token.text, None)
        if token.kind == "string":
            return ("string", token.text, None)
        if token.text == "(":
            node = self.expression()
            self._expect("op", ")")
            return node
        raise ParseError(
            f"unexpected {token.kind} {token.text!r} at offset {token.position}"
        )

    def _peek(self) -> Token:
        return self._tokens[self._index]

    def _advance(self) -> Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _expect(self, kind: str, text: str | None = None) -> None:
        token = self._advance()
        if token.kind != kind or (text is not None and token.text != text):
            expected = text or kind
            raise ParseError(
                f"expected {expected!r} at offset {token.position}, "
                f"found {token.text!r}"
            )


def evaluate(node: Node, variables: Mapping[str, Decimal]) -> Decimal:
    kind, left, right = node
    if kind == "number":
        assert isinstance(left, Decimal)
        return left
    if kind == "name":
        assert isinstance(left, str)
        try:
            return variables[left]
        except KeyError as error:
            raise EvaluationError(f"undefined variable {left!r}") from error
    if kind == "string":
        return Decimal(str(left))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    a, b = evaluate(left, variables), evaluate(right, variables)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    return a / b


def compile_rule(source: str) -> Node:
    return Parser(tokenize(source)).parse()


def apply_rule(source: str, variables: Mapping[str, Decimal]) -> Decimal:
    return evaluate(compile_rule(source), variables)


def load_settings(document: str, *, source: str) -> dict[str, object]:
    try:
        settings = json.loads(document)
    except json.JSONDecodeError as error:
        raise ConfigError(f"settings {source} are not valid JSON") from error
    if not isinstance(settings, dict):
        raise ConfigError(
            f"settings {source} must be a JSON object, not {type(settings).__name__}"
        )
    return settings


def load_rules(document: str, *, source: str) -> dict[str, Node]:
    settings = load_settings(document, source=source)
    rules = settings["rules"]
    assert isinstance(rules, dict)
    return {name: compile_rule(str(text)) for name, text in rules.items()}
