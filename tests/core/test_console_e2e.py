"""The console end to end: a script piped into `actionflow run` on a fresh database."""

from __future__ import annotations

from pathlib import Path

from tests.console_demo import run_demo_console

SCRIPT = """\
帮助
/approval submit 客户=杭州一院 开始="明天 10:00" 结束="明天 11:00"
/as stranger
你好
/as liqiang
/whoami
/approval approve A001
/bogus
/click x
/advance 2h
/time
/approval submit 客户=杭州一院 开始=明天 9:00 结束=明天 10:00
/approval submit 客户="杭州一院 开始=明天
"""


def test_piped_script_runs_every_line_and_exits(tmp_path: Path) -> None:
    r = run_demo_console(SCRIPT, cwd=tmp_path)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "Warning" not in out + r.stderr  # a person at the console sees no library warnings
    # The announced count is the count created: 12 hospitals and the 9 leads of the last two weeks.
    assert "已创建演示数据：6 位同事，21 家客户，其中医院 12 家、新线索 9 家" in out
    assert "王磊> 帮助" in out and "我能帮你做这些" in out
    assert "stranger> 你好" in out and "还没有开通" in out
    assert "[机器人 → 周敏(admin)]" in out and "新用户请求使用" in out
    assert "当前用户：李强" in out
    # The manager types the decision; the event is the applicant's, as on the platforms.
    assert "【拜访简报】杭州市第一人民医院" in out
    assert "[机器人 → 王磊(wanglei)]\n  拜访申请已通过：杭州市第一人民医院" in out, out
    assert "[机器人 → 李强(liqiang)]\n  拜访申请已通过" not in out
    assert "未知的控制台命令 /bogus" in out
    assert "用法：/click" in out
    assert "模拟时间" in out
    # A value with a space that was not quoted is explained, not just met with the usage line.
    assert '看不懂「9:00」：每项都要写成 字段=值；值里有空格时请加引号，例如 开始="明天 9:00"。' in out
    assert "命令里的引号没有配对" in out
    assert (tmp_path / "actionflow.db").exists()
    # A second run on the same database keeps the data and does not seed twice. Its applications are
    # numbered on from the first run's (a reused number would be taken for an event already handled),
    # and it can decide an application submitted before the restart.
    again = """\
帮助
/approval submit 客户=浙江省人民医院 开始="明天 14:00" 结束="明天 15:00"
/approval submit 客户=浙江省人民医院 开始="明天 16:00" 结束="明天 17:00" 编号=A001
/as liqiang
/approval refuse A001
/approval refuse A001
/approval approve A404
"""
    r2 = run_demo_console(again, cwd=tmp_path)
    out2 = r2.stdout
    assert r2.returncode == 0 and "已创建演示数据" not in out2 and "我能帮你做这些" in out2
    # The first run moved the simulated clock 2 hours ahead: the second goes on from there, so the
    # first run's records are not in its future.
    assert "（模拟时间接着上次的进度：" in out2
    assert "（审批单 A002 已提交）" in out2 and "【拜访简报】浙江省人民医院" in out2, out2
    assert "（审批单 A001 已经提交过了" in out2
    assert "[机器人 → 王磊(wanglei)]\n  拜访申请被拒绝：杭州市第一人民医院" in out2
    assert "（审批单 A001 的这个结果已经发送过了）" in out2
    assert "（没有找到审批单 A404" in out2
