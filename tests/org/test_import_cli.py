"""`actionflow import users` / `export users`: round trip, all or nothing, idempotence, history kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditLog, Customer, User
from tests.org.cli import EXAMPLE, Cli, write

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(tmp_path, monkeypatch, capsys)


def test_round_trip_and_reimport_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    first = cli("import", "users", str(EXAMPLE))
    assert first.code == 0, first.err
    assert "8 people" in first.out and "8 changes: 8 added" in first.out
    assert "+ 刘洋 (added): roles: rep; supervisor: 吴刚; team: 杭州二组; wecom_userid: LiuYang" in first.out
    assert cli.export("out.csv") == EXAMPLE.read_text(encoding="utf-8")

    again = cli("import", "users", str(EXAMPLE))
    assert again.code == 0 and "0 changes" in again.out
    assert cli.export() == EXAMPLE.read_text(encoding="utf-8")

    # XLSX and Chinese headers make the same round trip into a fresh database.
    xlsx = tmp_path / "people.xlsx"
    assert cli("export", "users", str(xlsx)).code == 0
    zh = tmp_path / "people_zh.csv"
    assert cli("export", "users", str(zh), "--lang", "zh").code == 0
    assert zh.read_text(encoding="utf-8").startswith("姓名,角色,主管,团队")
    assert "吴刚,销售、经理,李强" in zh.read_text(encoding="utf-8")
    for source in (xlsx, zh):
        (tmp_path / "bot.db").unlink()
        result = cli("import", "users", str(source))
        assert result.code == 0 and "8 changes: 8 added" in result.out, result.err
        assert cli.export() == EXAMPLE.read_text(encoding="utf-8")
        assert "0 changes" in cli("import", "users", str(EXAMPLE)).out


def test_a_file_with_bad_rows_changes_nothing_and_names_every_line(cli: Cli, tmp_path: Path) -> None:
    assert cli("import", "users", str(EXAMPLE)).code == 0
    before = cli.export()
    bad = write(
        tmp_path / "bad.csv",
        "name,roles,supervisor,team,wecom_userid\n"
        "王磊,rep,李强,杭州三组,WangLei\n"  # line 2: fine on its own (a change)
        ",rep,李强,杭州一组,Nobody\n"  # line 3: no name
        "孙悦,sales,李强,杭州一组,SunYue\n"  # line 4: unknown role
        "钱多,rep,马云,杭州一组,QianDuo\n"  # line 5: unknown supervisor
        "周九,rep,李强,杭州一组,WangLei\n"  # line 6: duplicate id (with line 2)
        "新人,rep,李强,杭州一组,LiQiang\n",  # line 7: LiQiang's id under another name
    )
    result = cli("import", "users", str(bad))
    assert result.code == 1
    assert "nothing was changed" in result.err
    err = result.err
    assert "line 3: name is empty" in err
    assert "line 4: unknown role 'sales'" in err
    assert "line 5: unknown supervisor '马云'" in err
    assert "line 2: wecom_userid 'WangLei' is also on line 6" in err
    assert "line 6: wecom_userid 'WangLei' is also on line 2" in err
    assert "line 2: unknown supervisor '李强': line 7 renames 李强 to 新人" in err
    assert cli.export() == before


def test_bad_files_are_refused_with_a_clear_message(cli: Cli, tmp_path: Path) -> None:
    assert cli("import", "users", str(EXAMPLE)).code == 0
    before = cli.export()
    cases = {
        "cols.csv": ("name,roles,工号\n王磊,rep,7\n", "line 1: unknown column '工号'"),
        "quote.csv": ('name,roles\n"王磊,rep\n', "malformed CSV"),
        "empty.csv": ("", "the file is empty"),
        "header.csv": ("name,roles\n", "header but no people"),
        "noname.csv": ("roles,team\nrep,一组\n", "there is no name column"),
        "twice.csv": ("name,姓名\n王磊,王磊\n", "appears twice"),
        "stray.csv": ("name,roles\n王磊,rep,extra\n", "line 2: a value sits in a column without a header"),
        "people.txt.pdf": ("name\n王磊\n", "unsupported file type '.pdf'"),
    }
    for name, (text, message) in cases.items():
        result = cli("import", "users", str(write(tmp_path / name, text)))
        assert result.code == 1 and message in result.err, (name, result.err)
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    result = cli("import", "users", str(tmp_path / "broken.xlsx"))
    assert result.code == 1 and "not a readable .xlsx workbook" in result.err
    (tmp_path / "latin.csv").write_bytes(b"name\n\xff\xfe\xfa\n")
    assert "not UTF-8 or GBK" in cli("import", "users", str(tmp_path / "latin.csv")).err
    assert "cannot read the file" in cli("import", "users", str(tmp_path / "missing.csv")).err
    assert cli.export() == before


def test_a_changed_file_updates_people_and_keeps_their_history(cli: Cli, tmp_path: Path) -> None:
    assert cli("import", "users", str(EXAMPLE)).code == 0

    async def give_history(session: AsyncSession) -> tuple[int, int]:
        wang = (await session.execute(select(User).where(User.name == "王磊"))).scalar_one()
        zhang = (await session.execute(select(User).where(User.name == "张婷"))).scalar_one()
        for name, owner in (("杭州市第一人民医院", wang), ("余杭区人民医院", zhang)):
            session.add(
                Customer(name=name, normalized_name=name, owner_id=owner.id, created_at=NOW, updated_at=NOW)
            )
        return wang.id, zhang.id

    wang_id, zhang_id = cli.db(give_history)
    text = EXAMPLE.read_text(encoding="utf-8")
    changed = text.replace("王磊,rep,李强,杭州一组", "王磊,rep,吴刚,杭州二组").replace(
        "张婷,rep,李强,杭州一组,浙江,销售代表,13800000004",
        "张婷,rep,李强,杭州一组,浙江,高级销售代表,13900000004",
    )
    changed += "孙悦,rep,吴刚,杭州二组,浙江,销售代表,,,,SunYue,,active\n"
    result = cli("import", "users", str(write(tmp_path / "changed.csv", changed)))
    assert result.code == 0, result.err
    assert "3 changes: 1 added, 2 updated" in result.out
    assert "~ 王磊 (updated): supervisor: 李强 → 吴刚; team: 杭州一组 → 杭州二组" in result.out
    assert "~ 张婷 (updated): title: 销售代表 → 高级销售代表; phone: 13800000004 → 13900000004" in result.out

    # A file that leaves people out leaves them alone…
    short = "name,roles,wecom_userid\n王磊,rep,WangLei\n周敏,admin,ZhouMin\n"
    assert "0 changes" in cli("import", "users", str(write(tmp_path / "short.csv", short))).out
    # …unless asked to deactivate them; nobody is deleted, customers stay where they were.
    result = cli("import", "users", str(tmp_path / "short.csv"), "--deactivate-missing")
    assert result.code == 0, result.err
    assert "- 张婷 (deactivated)" in result.out and "7 changes: 7 deactivated" in result.out
    assert "张婷 is now inactive but still owns 1 customer(s)" in result.out

    async def check(session: AsyncSession) -> None:
        people = {u.name: u for u in (await session.execute(select(User))).scalars()}
        assert len(people) == 9
        assert people["王磊"].id == wang_id and people["王磊"].team == "杭州二组"
        assert people["张婷"].id == zhang_id and people["张婷"].status == "inactive"
        owners = dict((await session.execute(select(Customer.name, Customer.owner_id))).all())
        assert owners == {"杭州市第一人民医院": wang_id, "余杭区人民医院": zhang_id}
        audits = (
            await session.execute(
                select(func.count()).select_from(AuditLog).where(AuditLog.entity_id == str(wang_id))
            )
        ).scalar_one()
        assert audits == 2  # added, then updated

    cli.db(check)


def test_supervisor_loops_are_reported_on_every_line(cli: Cli, tmp_path: Path) -> None:
    text = (
        "name,roles,supervisor,console_id\n"
        "甲,manager,丙,jia\n"
        "乙,rep,甲,yi\n"
        "丙,rep,乙,bing\n"
        "丁,rep,丁,ding\n"
        "戊,admin,,wu\n"
    )
    result = cli("import", "users", str(write(tmp_path / "loop.csv", text)))
    assert result.code == 1
    for line in (2, 3, 4):
        assert f"line {line}: the supervisor chain loops: " in result.err
    assert (
        "甲 → 丙 → 乙 → 甲" in result.err
        or "乙 → 甲 → 丙 → 乙" in result.err
        or "丙 → 乙 → 甲 → 丙" in result.err
    )
    assert "line 5: 丁 cannot be their own supervisor" in result.err
    assert "line 6" not in result.err
    assert cli.export().count("\n") == 1  # header only: nothing was added


def test_gbk_csv_and_numeric_xlsx_cells_are_read(cli: Cli, tmp_path: Path) -> None:
    gbk = write(tmp_path / "gbk.csv", "姓名,角色,团队,钉钉userId\n王磊,销售,一组,0127\n", encoding="gbk")
    assert "1 added" in cli("import", "users", str(gbk)).out
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "角色", "电话", "企业微信userid"])
    sheet.append(["张婷", "销售", 13800000004, "ZhangTing"])
    sheet.append([None, None, None, None])
    book.save(tmp_path / "numbers.xlsx")
    result = cli("import", "users", str(tmp_path / "numbers.xlsx"))
    assert result.code == 0 and "1 added" in result.out, result.err
    exported = cli.export()
    assert "王磊,rep,,一组,,,,0127," in exported
    assert "张婷,rep,,,,,13800000004,,,ZhangTing," in exported


def test_ids_identify_people_and_unnamed_twins_are_refused(cli: Cli, tmp_path: Path) -> None:
    people = "name,roles,console_id,wecom_userid\n甲,admin,a,wa\n乙,rep,b,wb\n"
    assert cli("import", "users", str(write(tmp_path / "p.csv", people))).code == 0
    swapped = "name,roles,console_id,wecom_userid\n甲,admin,b,wa\n乙,rep,a,wb\n"
    result = cli("import", "users", str(write(tmp_path / "s.csv", swapped)))
    assert result.code == 1 and "conflicting ids" in result.err  # b belongs to 乙 but wa to 甲
    swap_ok = "name,roles,wecom_userid,console_id\n甲,admin,wa,b2\n乙,rep,wb,a2\n"
    assert "2 updated" in cli("import", "users", str(write(tmp_path / "ok.csv", swap_ok))).out
    twins = "name,roles\n丙,rep\n丙,rep\n"
    result = cli("import", "users", str(write(tmp_path / "twins.csv", twins)))
    assert result.code == 1 and "line 2: 丙 is also on line 3 and neither has a platform id" in result.err
