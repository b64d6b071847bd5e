"""`actionflow import customers`: CSV and XLSX, every bad row with its line number, all or nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from bot.cli.main import main
from bot.testing import BotHarness, make_settings
from storage.models import AuditLog, Customer, KeyPerson, OutboxMessage
from tests.flows.kit import add_customer, org

ROOT = Path(__file__).resolve().parents[2]
HEADER = "客户名称,客户类型,客户等级,所在区域,负责人,共享,关键人1角色组,关键人1姓名,关键人1职务,关键人1最近沟通日期,关键人2角色组,关键人2姓名,关键人2职务,关键人2最近沟通日期"


def setup_db(tmp_path: Path) -> Path:
    """A database with the test organisation and one existing customer; returns a config file for it."""

    async def go() -> None:
        async with BotHarness(tmp_path) as bot:
            await org(bot)
            await add_customer(bot, "杭州市第一人民医院", "wanglei")

    asyncio.run(go())
    settings = make_settings(tmp_path)
    config = tmp_path / "actionflow.toml"
    config.write_text(
        f'[database]\nurl = "{settings.database.url}"\n[app]\ndata_dir = "{tmp_path / "data"}"\n',
        encoding="utf-8",
    )
    return config


def stored(tmp_path: Path) -> tuple[list[Customer], list[KeyPerson], list[AuditLog], list[OutboxMessage]]:
    async def go() -> tuple[list[Customer], list[KeyPerson], list[AuditLog], list[OutboxMessage]]:
        async with BotHarness(tmp_path) as bot, bot.session() as s:
            return (
                list((await s.execute(select(Customer).order_by(Customer.id))).scalars()),
                list((await s.execute(select(KeyPerson).order_by(KeyPerson.id))).scalars()),
                list((await s.execute(select(AuditLog).order_by(AuditLog.id))).scalars()),
                list((await s.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars()),
            )

    return asyncio.run(go())


BAD_FILE = "\n".join(
    [
        HEADER,
        "浙江省人民医院,三甲医院,A,杭州市拱墅区,王磊,否,采购科,陈明,采购科主任,2026-11-01,设备科,李华,设备科科长,2026-10-01",
        ",三甲医院,A,杭州市,王磊,否,,,,,,,,",
        "余杭区人民医院,二级医院,Z,杭州市余杭区,王磊,否,采购科,何强,科长,2026-13-01,,,,",
        "富阳区人民医院,二级医院,B,杭州市富阳区,不存在的人,否,财务科,赵敏,科长,2026-11-01,,,,",
        "杭州一院,三甲医院,A,杭州市上城区,王磊,否,采购科,刘建国,采购科主任,2026-11-01,,,,",
        '"桐庐县人民医院",二级医院,B,"杭州市\n桐庐县",张婷,是,院领导,何院长,院长,2026-11-02,,,,',
        "杭州市第一人民医院,三甲医院,A,杭州市上城区,王磊,否,采购科,刘建国,采购科主任,2026-11-01,,,,",
    ]
)


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup_db(tmp_path)
    path = tmp_path / "customers.csv"
    path.write_text(BAD_FILE, encoding="utf-8")
    rc = main(["--config", str(config), "import", "customers", str(path)])
    out = capsys.readouterr().out
    assert rc == 1
    assert "line 3: 客户名称 is missing" in out
    assert "line 4: 客户等级 'Z' is not one of: A（重点） / B（常规） / C（培育）" in out
    assert "line 4: 关键人1最近沟通日期: date '2026-13-01' does not exist" in out
    assert "line 5: owner '不存在的人' is not a known active user" in out
    assert "line 5: 关键人1角色组 '财务科' is not one of" in out
    assert "line 6: looks like '杭州市第一人民医院' in the database" in out
    assert "line 9: 杭州市第一人民医院 already exists; skipped" in out  # after the 2-line quoted cell
    assert "4 bad row(s); nothing imported" in out and "--skip-bad to import the 2 good row(s)" in out
    customers, _, _, _ = stored(tmp_path)
    assert [c.name for c in customers] == ["杭州市第一人民医院"]


def test_skip_bad_imports_the_good_rows_and_reminds_owners_of_incomplete_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup_db(tmp_path)
    path = tmp_path / "customers.csv"
    path.write_bytes(BAD_FILE.encode("gb18030"))  # Excel in China saves CSV as GBK
    rc = main(["--config", str(config), "import", "customers", "--skip-bad", str(path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "imported 2 customer(s) (1 incomplete" in out and "skipped 4 bad row(s); 1 already existed" in out
    customers, persons, audit, outbox = stored(tmp_path)
    assert [c.name for c in customers] == ["杭州市第一人民医院", "浙江省人民医院", "桐庐县人民医院"]
    zj, tl = customers[1], customers[2]
    assert zj.profile_complete and zj.grade == "A（重点）" and zj.lead_created_at is not None
    assert not tl.profile_complete and tl.shared and tl.region == "杭州市\n桐庐县"
    assert {p.name for p in persons if p.customer_id == zj.id} == {"陈明", "李华"}
    imports = [a for a in audit if a.action == "customer.import"]
    assert len(imports) == 2 and imports[0].actor_id is None
    assert imports[0].source_event == "cli:import customers customers.csv"
    reminders = [m for m in outbox if m.idempotency_key.startswith("import-incomplete:")]
    assert len(reminders) == 1 and reminders[0].target == "zhangting"
    assert "桐庐县人民医院" in reminders[0].payload["text"]
    # Importing the same file again adds nothing.
    rc = main(["--config", str(config), "import", "customers", "--skip-bad", str(path)])
    out = capsys.readouterr().out
    assert "imported 0 customer(s)" in out and "3 already existed" in out
    assert len(stored(tmp_path)[0]) == 3


def test_xlsx_with_default_owner_and_the_shipped_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup_db(tmp_path)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["name", "kind", "region", "kp1_role", "kp1_name", "kp1_title", "kp1_last_contact"])
    sheet.append(["萧山区第一人民医院", "二级医院", "杭州市萧山区", "设备科", "周伟", "设备科科长", None])
    sheet.append([None, None, None, None, None, None, None])
    sheet.append(["临安区中医院", "二级医院", "杭州市临安区", "采购科", "钱芳", "采购员", "2099-01-01"])
    path = tmp_path / "customers.xlsx"
    book.save(path)
    rc = main(["--config", str(config), "import", "customers", "--owner", "zhangting", str(path)])
    out = capsys.readouterr().out
    assert rc == 1 and "line 4: 关键人1最近沟通日期: date 2099-01-01 is in the future" in out
    rc = main(
        [
            "--config",
            str(config),
            "import",
            "customers",
            "--owner",
            "张婷",
            "--skip-bad",
            "--dry-run",
            str(path),
        ]
    )
    assert rc == 0 and "dry run: 1 customer(s) would be imported" in capsys.readouterr().out
    assert len(stored(tmp_path)[0]) == 1
    rc = main(["--config", str(config), "import", "customers", "--owner", "张婷", "--skip-bad", str(path)])
    assert rc == 0
    customers, _, _, _ = stored(tmp_path)
    assert customers[-1].name == "萧山区第一人民医院" and customers[-1].kind == "二级医院"
    # The example in the docs imports cleanly apart from the twin already in the database.
    example = ROOT / "docs" / "examples" / "customers.csv"
    rc = main(["--config", str(config), "import", "customers", str(example)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "line 2: 杭州市第一人民医院 already exists; skipped" in out and "imported 2 customer(s)" in out


def test_the_command_works_in_a_fresh_process(tmp_path: Path) -> None:
    """The field types of the forms file are registered by the feature modules: a process that has
    not imported them (every real run of the command) must register them itself. In-process calls
    above cannot show this, as the test session has imported every module."""
    config = setup_db(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    example = ROOT / "docs" / "examples" / "customers.csv"
    command = ["--log-level", "WARNING", "--config", str(config), "import", "customers", "--dry-run"]
    r = subprocess.run(
        [sys.executable, "-m", "bot", *command, str(example)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dry run: 2 customer(s) would be imported" in r.stdout


def test_unreadable_files_are_explained(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = setup_db(tmp_path)
    (tmp_path / "x.txt").write_text("a", encoding="utf-8")
    assert main(["--config", str(config), "import", "customers", str(tmp_path / "x.txt")]) == 1
    assert "use a .csv or .xlsx file" in capsys.readouterr().out
    (tmp_path / "u.csv").write_text("客户名称,颜色\n某医院,红\n", encoding="utf-8")
    assert main(["--config", str(config), "import", "customers", str(tmp_path / "u.csv")]) == 1
    assert "line 1: unknown column(s): 颜色" in capsys.readouterr().out
