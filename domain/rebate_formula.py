"""The rebate formula: a safe arithmetic expression over named inputs, evaluated in Decimal.

Allowed: numbers, the input names below, ``+ - * /``, parentheses, comparisons, ``a if cond else b``,
``and``/``or``/``not`` and the functions ``min``/``max``. Anything else (attributes, indexing, strings,
``**``, calls to other functions, unknown names) is rejected when the formula is loaded. Number literals
keep their exact written value (``0.008`` is Decimal("0.008"), never a float). The result is rounded to
the fen (0.01 yuan) half-up.
"""

from __future__ import annotations

import ast
import hashlib
import operator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from typing import Any

from simpleeval import SimpleEval

INPUTS: dict[str, str] = {
    "contract_amount": "signed contract (order) amount of the customer in the quarter, yuan",
    "target": "the customer's quarterly target from rebates.quarterly_targets, yuan (0 when none)",
    "target_increment": "the part of contract_amount above the quarterly target, yuan (0 when not reached)",
    "new_hospitals": "hospitals that received their first signed order in this quarter (see docs/manager.md)",
    "order_count": "signed orders of the customer in the quarter",
}
FUNCTIONS = {"min": min, "max": max}
FEN = Decimal("0.01")

_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_SYNTAX: set[type[ast.AST]] = {
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.BoolOp,
    ast.Call,
    ast.Name,
    ast.Constant,
    ast.Load,
    ast.And,
    ast.Or,
    *_BINOPS,
    *_UNARY,
    *_COMPARE,
}
_NAMES_FOR_HUMANS: dict[type[ast.AST], str] = {
    ast.Pow: "'**' (power)",
    ast.FloorDiv: "'//'",
    ast.Mod: "'%'",
    ast.Attribute: "attribute access ('.')",
    ast.Subscript: "indexing ('[…]')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.List: "lists",
    ast.Tuple: "tuples",
    ast.Dict: "dicts",
    ast.JoinedStr: "f-strings",
    ast.NamedExpr: "':='",
}


class FormulaError(ValueError):
    """The formula cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class Formula:
    text: str
    version: str
    tree: ast.Expression

    def evaluate(self, inputs: dict[str, Decimal]) -> Decimal:
        """The rebate for ``inputs``, rounded half-up to the fen."""
        missing = set(INPUTS) - set(inputs)
        if missing:
            raise FormulaError(f"missing inputs: {', '.join(sorted(missing))}")
        operators: dict[Any, Any] = {**_BINOPS, **_UNARY, **_COMPARE}
        evaluator = SimpleEval(operators=operators, functions=dict(FUNCTIONS), names=dict(inputs))
        with localcontext() as ctx:
            ctx.prec = 34
            try:
                value: Any = evaluator.eval(self.text, previously_parsed=self.tree.body)
            except ZeroDivisionError as exc:
                raise FormulaError("the formula divides by zero for these inputs") from exc
            except (InvalidOperation, ArithmeticError) as exc:
                raise FormulaError(f"the formula cannot be computed for these inputs: {exc}") from exc
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise FormulaError(f"the formula must give an amount, not {type(value).__name__}")
        return Decimal(value).quantize(FEN, rounding=ROUND_HALF_UP)


class _Decimals(ast.NodeTransformer):
    def __init__(self, source: str) -> None:
        self.source = source

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(f"only numbers may appear as values (found {node.value!r})")
        written = ast.get_source_segment(self.source, node) or repr(node.value)
        try:
            value = Decimal(written.replace("_", ""))
        except InvalidOperation as exc:
            raise FormulaError(f"{written!r} is not a decimal number") from exc
        return ast.copy_location(ast.Constant(value=value), node)  # type: ignore[arg-type]


def parse_formula(text: str) -> Formula:
    """Validate and compile; raises :class:`FormulaError` with every reason found."""
    source = (text or "").strip()
    if not source:
        raise FormulaError("the formula is empty")
    if len(source) > 500:
        raise FormulaError("the formula is longer than 500 characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"not a valid expression: {exc.msg} (column {exc.offset})") from None
    problems: list[str] = []
    for node in ast.walk(tree):
        kind = type(node)
        if kind not in _SYNTAX:
            what = _NAMES_FOR_HUMANS.get(kind, kind.__name__)
            problems.append(f"{what} is not allowed")
        elif isinstance(node, ast.Name) and node.id not in INPUTS and node.id not in FUNCTIONS:
            problems.append(f"unknown name {node.id!r} (known inputs: {', '.join(INPUTS)})")
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                problems.append(f"only {', '.join(FUNCTIONS)} may be called")
            elif node.keywords or not node.args:
                problems.append(f"{node.func.id}() takes plain arguments")
        elif isinstance(node, ast.Name) and node.id in FUNCTIONS:
            pass
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FUNCTIONS:
            parent_calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and n.func is node]
            if not parent_calls:
                problems.append(f"{node.id} must be called, e.g. {node.id}(a, b)")
    if problems:
        raise FormulaError("; ".join(dict.fromkeys(problems)))
    tree = _Decimals(source).visit(tree)
    ast.fix_missing_locations(tree)
    formula = Formula(source, hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:12], tree)
    sample = {name: Decimal(1) for name in INPUTS}
    formula.evaluate(sample)  # type errors (e.g. a comparison as the result) surface at load
    return formula


def check(text: str) -> list[str]:
    try:
        parse_formula(text)
    except FormulaError as exc:
        return [f"rebates.formula: {exc}"]
    return []
