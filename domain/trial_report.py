"""The trial-feedback PDF: a timestamped one-page report with Chinese text (fpdf2, embedded font subset)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from domain.fonts import codepoints


@dataclass(frozen=True)
class TrialReport:
    number: int
    customer: str
    region: str
    rep: str
    manager: str
    product_code: str
    pain_points: list[str]
    notes: str
    created_local: datetime  # in the company's time zone (the stamp shows its offset)


def _row(pdf: FPDF, label: str, value: str) -> None:
    pdf.set_font(size=11)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(32, 8, label, new_x=XPos.RIGHT, new_y=YPos.TOP)
    pdf.set_text_color(0, 0, 0)
    pdf.multi_cell(0, 8, value or "—", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    left_out: str  # characters no font could show (each once, in order), already removed from the PDF


def _printable(text: str, covered: frozenset[int]) -> tuple[str, str]:
    """``text`` without the characters no font covers, and those characters."""
    kept, dropped = [], []
    for ch in text:
        if ord(ch) in covered or ch in "\n\t" or ch.isspace():
            kept.append(ch)
        elif ch not in dropped:
            dropped.append(ch)
    return "".join(kept), "".join(dropped)


def render(report: TrialReport, font_path: Path, fallbacks: Sequence[Path] = ()) -> Rendered:
    """The PDF. Characters the Chinese font lacks (emoji) come from ``fallbacks``; what none of the
    fonts has is left out and named in ``left_out`` so the rep can be told, never dropped silently."""
    covered = codepoints(font_path).union(*(codepoints(f) for f in fallbacks))
    left_out = ""
    cleaned: dict[str, object] = {}
    for name in ("customer", "region", "rep", "manager", "product_code", "notes"):
        text, dropped = _printable(getattr(report, name), covered)
        cleaned[name] = text
        left_out += "".join(ch for ch in dropped if ch not in left_out)
    points = []
    for point in report.pain_points:
        text, dropped = _printable(point, covered)
        points.append(text)
        left_out += "".join(ch for ch in dropped if ch not in left_out)
    report = replace(report, pain_points=points, **cleaned)  # type: ignore[arg-type]
    return Rendered(_render(report, font_path, fallbacks), left_out)


def _render(report: TrialReport, font_path: Path, fallbacks: Sequence[Path]) -> bytes:
    """The PDF bytes. Same report and time → same bytes (the creation date is the report's time)."""
    stamp = report.created_local.strftime("%Y-%m-%d %H:%M:%S")
    offset = report.created_local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else ""
    pdf = FPDF(format="A4")
    pdf.set_creation_date(report.created_local)
    pdf.set_title(f"试用反馈报告 {report.product_code}")
    pdf.set_author(report.rep)
    pdf.set_creator("ActionFlow")
    pdf.add_font("cjk", fname=str(font_path), collection_font_number=0)
    names = []
    for i, path in enumerate(fallbacks):
        pdf.add_font(f"fallback{i}", fname=str(path))
        names.append(f"fallback{i}")
    if names:
        pdf.set_fallback_fonts(names)
    pdf.set_font("cjk", size=11)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()

    pdf.set_font(size=18)
    pdf.cell(0, 12, "试用反馈报告", new_x=XPos.LMARGIN, new_y=YPos.NEXT, align="C")
    pdf.set_font(size=10)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(
        0,
        7,
        f"编号 TF-{report.number:05d}　生成时间 {stamp} {offset}",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
        align="C",
    )
    pdf.ln(4)
    pdf.set_draw_color(200, 200, 200)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(3)

    _row(pdf, "客户", report.customer)
    _row(pdf, "区域", report.region)
    _row(pdf, "产品编号", report.product_code)
    _row(pdf, "疼痛点类型", "、".join(report.pain_points))
    _row(pdf, "销售代表", report.rep)
    _row(pdf, "区域经理", report.manager)
    pdf.ln(2)
    pdf.set_font(size=12)
    pdf.cell(0, 9, "临床反馈", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(size=11)
    pdf.multi_cell(0, 7, report.notes or "（未填写）", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_auto_page_break(auto=False)
    if pdf.get_y() > pdf.h - 26:
        pdf.add_page()
    pdf.set_y(-20)
    pdf.set_font(size=8)
    pdf.set_text_color(130, 130, 130)
    pdf.cell(0, 6, f"ActionFlow 动作流 · 试用反馈采集 · {stamp} {offset}", align="C")
    return bytes(pdf.output())
