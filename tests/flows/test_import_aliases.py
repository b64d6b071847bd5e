"""Customer import: the 别名 column, and twin checks that know two hospitals of one city apart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli.main import main
from bot.testing import BotHarness
from storage.models import Customer, CustomerAlias
from tests.flows.test_import import setup_db

HEADER = "客户名称,客户类型,客户等级,所在区域,负责人,别名,关键人1角色组,关键人1姓名,关键人1职务,关键人1最近沟通日期"


def rows(*lines: str) -> str:
    return "\n".join([HEADER, *lines]) + "\n"


def aliases(tmp_path: Path) -> dict[str, str]:
    async def go() -> dict[str, str]:
        async with BotHarness(tmp_path) as bot, bot.session() as s:
            stmt = select(CustomerAlias.alias, Customer.name).join(
                Customer, Customer.id == CustomerAlias.customer_id
            )
            return {alias: name for alias, name in await s.execute(stmt)}

    return asyncio.run(go())


def test_aliases_are_imported_and_a_taken_alias_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = setup_db(tmp_path)  # 杭州市第一人民医院 exists
    path = tmp_path / "customers.csv"
    good = [
        "富阳区人民医院,二级医院,B,杭州市富阳区,王磊,富阳人医、老富医,采购科,何强,科长,2026-11-01",
        "富阳区中医院,二级医院,B,杭州市富阳区,王磊,,采购科,赵敏,科长,2026-11-01",
        "杭州市第三人民医院,三甲医院,A,杭州市上城区,王磊,,采购科,钱峰,科长,2026-11-01",
        "杭州市第一人民医院,三甲医院,A,杭州市上城区,王磊,湖滨医院,采购科,刘建国,采购科主任,2026-11-01",
    ]
    taken = [
        "桐庐县人民医院,二级医院,B,杭州市桐庐县,张婷,老富医,院领导,何院长,院长,2026-11-02",
        "桐庐县中医院,二级医院,B,杭州市桐庐县,张婷,杭州市第一人民医院,院领导,吴院长,院长,2026-11-02",
    ]
    path.write_text(rows(*good, *taken), encoding="utf-8")
    assert main(["--config", str(config), "import", "customers", str(path)]) == 1
    out = capsys.readouterr().out
    assert "line 6: 别名 '老富医' already names '富阳区人民医院' (line 2)" in out
    assert "line 7: 别名 '杭州市第一人民医院' already names '杭州市第一人民医院' (the database)" in out
    # distinct hospitals of one city are not twins
    assert "looks like" not in out
    assert aliases(tmp_path) == {}

    path.write_text(rows(*good), encoding="utf-8")
    assert main(["--config", str(config), "import", "customers", str(path)]) == 0
    out = capsys.readouterr().out
    assert "imported 3 customer(s)" in out and "1 already existed" in out
    assert aliases(tmp_path) == {
        "富阳人医": "富阳区人民医院",
        "老富医": "富阳区人民医院",
        "湖滨医院": "杭州市第一人民医院",
    }
