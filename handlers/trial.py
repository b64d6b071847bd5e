"""试用反馈: product code (typed or scanned), pain points, notes → a timestamped PDF for rep and manager."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from pydantic import model_validator

from core.messages import File, Message, Text
from domain import trials
from domain.fonts import FontMissing, fallback_fonts, find_cjk_font
from domain.product_codes import extract
from domain.trial_report import TrialReport, render
from handlers.commands import Command
from handlers.completion import Audit, Progress, finish
from handlers.context import Turn
from handlers.customer_field import CustomerValue
from handlers.flowkit import customer_form_args, editable_customer, start_form, supervisor_of
from handlers.forms.answers import Answers, Value
from handlers.forms.engine import FormResult
from handlers.forms.fields import FieldError, Parsed, _require_text
from handlers.forms.spec import FieldSpec
from handlers.registry import Registry

DEFAULT_PATTERN = r"[A-Za-z0-9][A-Za-z0-9\-_/.]{2,39}"


class ProductCodeField:
    """A product code typed by the rep, or the text a scan produced (URL, GS1/UDI, JSON)."""

    def ask(self, spec: FieldSpec, prompt: str, token: str) -> Message:
        return Text(text=prompt)

    async def parse(self, turn: Turn, spec: FieldSpec, ctx: dict[str, Any]) -> Parsed:
        found = extract(_require_text(turn, "产品编号或扫码结果"))
        if not re.fullmatch(spec.pattern or DEFAULT_PATTERN, found.code):
            raise FieldError(spec.pattern_error or "产品编号应为 3–40 位字母、数字或 - _ / .")
        value = {"code": found.code, "source": found.source, "lot": found.lot, "expiry": found.expiry}
        echo = (
            f"产品编号：{found.code}" + (f"（{found.note}）" if found.note else "")
            if found.source != "typed"
            else ""
        )
        return Parsed(value, echo)

    def display(self, spec: FieldSpec, value: Any) -> str:
        return str(value.get("code", "")) if isinstance(value, dict) else str(value)


class ProductCodeValue(Value):
    """A ``product_code`` answer: the code and, from a scan, its source, lot and expiry."""

    code: str
    source: str = "typed"
    lot: str | None = None
    expiry: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return {"code": str(value)} if not isinstance(value, dict) else value


class TrialAnswers(Answers):
    customer: CustomerValue | None = None
    product_code: ProductCodeValue
    pain_points: tuple[str, ...] = ()
    notes: str = ""


async def complete_trial(turn: Turn, result: FormResult) -> None:
    answers = result.typed(TrialAnswers)
    customer = await editable_customer(turn, answers.customer)
    if customer is None:
        await turn.reply("你没有权限为这家客户提交试用反馈。")
        return
    product = answers.product_code
    pain_points = list(answers.pain_points)
    notes = trials.notes_with_scan(answers.notes, lot=product.lot, expiry=product.expiry)
    row = await trials.record(
        turn.session,
        now=turn.now,
        rep_id=turn.user.id,
        customer_id=customer.id,
        product_code=product.code,
        pain_points=pain_points,
        notes=notes,
    )
    boss = await supervisor_of(turn.session, turn.user)
    report = TrialReport(
        number=row.id,
        customer=customer.name,
        region=customer.region,
        rep=turn.user.name,
        manager=boss.name if boss else "",
        product_code=row.product_code,
        pain_points=pain_points,
        notes=notes,
        created_local=turn.local(turn.now),
    )
    progress = Progress(customer, "trial", row.product_code, "、".join(pain_points))
    try:
        font = find_cjk_font(turn.services.settings.reports.font_path)
        rendered = await asyncio.to_thread(render, report, font, fallback_fonts())
    except FontMissing as exc:
        after: dict[str, Any] = {"product_code": row.product_code, "pdf": None}
        await finish(
            turn,
            audit=[Audit("trial_feedback.create", "trial_feedback", row.id, after=after)],
            progress=progress,
            reply=f"试用反馈已保存，但 PDF 没有生成：{exc}。请联系管理员。",
        )
        return
    stamp = report.created_local.strftime("%Y%m%d-%H%M")
    name = f"试用反馈_{customer.name}_{row.product_code}_{stamp}.pdf".replace("/", "-")
    media = await turn.services.files.record(
        turn.session,
        now=turn.now,
        data=rendered.pdf,
        kind="report",
        ext="pdf",
        mime="application/pdf",
        original_name=name,
        channel=turn.event.channel,
    )
    trials.attach_report(row, media)
    replies: list[str | Message] = [
        File(
            path=media.path,
            name=name,
            mime="application/pdf",
            caption=f"试用反馈报告：{customer.name} · {row.product_code}",
        )
    ]
    if rendered.left_out:
        replies.append(
            f"提示：报告字体无法显示 {rendered.left_out}（如表情符号），PDF 中已省略；"
            "你填写的原文已完整保存。"
        )
    if boss is not None:
        await turn.tell(
            boss,
            File(
                path=media.path,
                name=name,
                mime="application/pdf",
                caption=f"{turn.user.name} 提交了试用反馈：{customer.name} · {row.product_code}",
            ),
        )
        replies.append(f"已发给区域经理 {boss.name}。")
    else:
        replies.append("你还没有设置主管，报告只发给了你。")
    after = {
        "customer_id": customer.id,
        "product_code": row.product_code,
        "pain_points": pain_points,
        "pdf_sha256": media.sha256,
    }
    await finish(
        turn,
        audit=[Audit("trial_feedback.create", "trial_feedback", row.id, after=after)],
        progress=progress,
        reply=replies,
    )


async def start_trial(turn: Turn, args: str) -> None:
    await start_form(turn, "trial_feedback", **await customer_form_args(turn, args))


def setup(registry: Registry) -> None:
    registry.field_type("product_code", ProductCodeField())
    registry.completer("trial_feedback", complete_trial, answers=TrialAnswers)
    registry.command(
        Command(
            ("试用反馈",), start_trial, "产品编号、疼痛点 → 带时间戳的 PDF 报告（可跟客户名称）", group="拜访"
        )
    )
