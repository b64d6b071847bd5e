"""The console end to end: a script piped into `actionflow run` on a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """\
帮助
/as stranger
你好
/as liqiang
/whoami
/bogus
/click x
/advance 2h
/time
"""


def test_piped_script_runs_every_line_and_exits(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run(
        [sys.executable, "-m", "bot", "--log-level", "WARNING", "run", "--demo"],
        input=SCRIPT,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "已创建演示数据：6 位同事，12 家客户" in out
    assert "王磊> 帮助" in out and "我能帮你做这些" in out
    assert "stranger> 你好" in out and "还没有开通" in out
    assert "[机器人 → 周敏(admin)]" in out and "新用户请求使用" in out
    assert "当前用户：李强" in out
    assert "未知的控制台命令 /bogus" in out
    assert "用法：/click" in out
    assert "模拟时间" in out
    assert (tmp_path / "actionflow.db").exists()
    # A second run on the same database keeps the data and does not seed twice.
    r2 = subprocess.run(
        [sys.executable, "-m", "bot", "--log-level", "WARNING", "run", "--demo"],
        input="帮助\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert r2.returncode == 0 and "已创建演示数据" not in r2.stdout and "我能帮你做这些" in r2.stdout
