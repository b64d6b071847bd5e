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


# How finance reads the formula in chat: the inputs and operators in Chinese words.
INPUT_WORDS: dict[str, str] = {
    "contract_amount": "合同金额",
    "target": "季度目标",
    "target_increment": "超出目标的金额",
    "new_hospitals": "新开医院数",
    "order_count": "订单数",
}
_OP_WORDS: dict[type[ast.AST], str] = {ast.Add: "＋", ast.Sub: "－", ast.Mult: "×", ast.Div: "÷"}
_CMP_WORDS: dict[type[ast.AST], str] = {
    ast.Lt: "＜",
    ast.LtE: "≤",
    ast.Gt: "＞",
    ast.GtE: "≥",
    ast.Eq: "等于",
    ast.NotEq: "不等于",
}
_COUNTS = {"new_hospitals", "order_count"}  # an amount per each of these reads 「× 5000 元」
_PRECEDENCE: dict[type[ast.AST], int] = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}


def _number(value: object, *, rate: bool) -> str:
    text = format(Decimal(str(value)).normalize(), "f")
    if rate and Decimal(text) < 1:
        return format((Decimal(text) * 100).normalize(), "f") + "%"
    return text


def _words(node: ast.AST, parent: int = 0) -> str:
    if isinstance(node, ast.Expression):
        return _words(node.body)
    if isinstance(node, ast.Name):
        return INPUT_WORDS.get(node.id, node.id)
    if isinstance(node, ast.Constant):
        return _number(node.value, rate=False)
    if isinstance(node, ast.BinOp):
        level = _PRECEDENCE[type(node.op)]
        operands = []
        sides = (node.left, node.right)
        per_count = any(isinstance(x, ast.Name) and x.id in _COUNTS for x in sides)
        for side in sides:
            # A fraction multiplied with an amount reads as a rate (合同金额 × 3%), an amount per
            # counted thing as yuan (新开医院数 × 5000 元).
            if isinstance(node.op, ast.Mult) and isinstance(side, ast.Constant):
                unit = " 元" if per_count else ""
                operands.append(_number(side.value, rate=not per_count) + unit)
            else:
                operands.append(_words(side, level))
        text = f"{operands[0]} {_OP_WORDS[type(node.op)]} {operands[1]}"
        return f"（{text}）" if level < parent else text
    if isinstance(node, ast.UnaryOp):
        inner = _words(node.operand, 3)
        return f"非 {inner}" if isinstance(node.op, ast.Not) else f"－{inner}"
    if isinstance(node, ast.Compare):
        parts = [_words(node.left, 1)]
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts += [_CMP_WORDS[type(op)], _words(right, 1)]
        return " ".join(parts)
    if isinstance(node, ast.BoolOp):
        joiner = " 且 " if isinstance(node.op, ast.And) else " 或 "
        return joiner.join(_words(v, 3) for v in node.values)
    if isinstance(node, ast.IfExp):
        text = f"若 {_words(node.test)} 则 {_words(node.body)}，否则 {_words(node.orelse)}"
        return f"（{text}）" if parent else text
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name = {"min": "取较小值", "max": "取较大值"}.get(node.func.id, node.func.id)
        return f"{name}（{'，'.join(_words(a) for a in node.args)}）"
    return ast.unparse(node)


def in_words(text: str) -> str:
    """The formula in Chinese words for finance (「合同金额 × 3% ＋ 超出目标的金额 × 0.8% ＋ …」);
    the formula text itself when it does not parse."""
    try:
        return _words(ast.parse(text.strip(), mode="eval"))
    except (SyntaxError, KeyError, InvalidOperation, ValueError):
        return text
