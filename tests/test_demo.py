"""The README's console demo (docs/demo.txt) end to end through `actionflow run --demo`: the product as
a person meets it, with the real speech model and a real PDF."""

from __future__ import annotations

import re
from pathlib import Path

from tests.console_demo import ROOT, run_demo_console
from tests.speech.conftest import model_dir

__all__ = ["model_dir"]


def test_the_console_demo_runs_every_flow(tmp_path: Path, model_dir: Path) -> None:
    r = run_demo_console(
        (ROOT / "docs" / "demo.txt").read_text(encoding="utf-8"),
        cwd=ROOT,
        settings={
            "ACTIONFLOW_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
            "ACTIONFLOW_APP__DATA_DIR": str(tmp_path / "data"),
            "ACTIONFLOW_SPEECH__MODELS_DIR": str(model_dir.parent),
        },
        timeout=300,
    )
    out = r.stdout
    assert r.returncode == 0, out[-3000:] + r.stderr[-3000:]
    for expected in (
        "已创建演示数据",
        "早报 · ",  # the 08:30 digest when the clock passes it
        "需求主题预警：灭菌与清洗消毒兼容性",
        "【客户档案】杭州市第一人民医院",
        "【拜访简报】杭州市第一人民医院",
        "拜访申请已通过：杭州市第一人民医院",
        "请上传现场照片",
        "拜访报告已提交（按时完成）",
        "正在转写…",
        "不可修改）：“采购成本太高了",
        "需求确认单已提交（按时完成）",
        "请审核竞对分析",
        "已通过竞对分析 #1",
        "健康指标（近 7 天",
        "超时未跟进客户（按销售）",
        "试用反馈报告：杭州市第一人民医院 · GK-2026-0815",
    ):
        assert expected in out, f"missing {expected!r}"
    # The seeded week has one late action among ~24, so the rate shows and is below 100%.
    rate = re.search(r"动作规范率：(\d+\.\d)%（(\d+)/(\d+) 按时完成", out)
    assert rate is not None and 80 < float(rate.group(1)) < 100, rate
    pdfs = list((tmp_path / "data" / "report").rglob("*.pdf"))
    assert len(pdfs) == 1
    from pypdf import PdfReader

    text = "".join(page.extract_text() for page in PdfReader(pdfs[0]).pages)
    assert "试用反馈报告" in text and "骨科主任觉得器械包尺寸偏大" in text
