"""``actionflow dingtalk emulator`` and the DingTalk configuration check."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from bot.cli.dingtalk import check_dingtalk
from bot.testing import make_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_emulator_command_prints_how_to_use_it_and_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "dingtalk", "emulator", "--port", "0", "--webhook", "tok:SECx"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("DingTalk emulator listening on http://127.0.0.1:")
        base = first.rsplit(" ", 1)[1].strip()
        lines = [proc.stdout.readline() for _ in range(6)]
        assert f"ACTIONFLOW_DINGTALK__API_BASE={base}" in "".join(lines)
        request = urllib.request.Request(
            f"{base}/_emulator/text",
            data=json.dumps({"staff_id": "0423", "text": "帮助"}).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.load(resp)["messageId"]
        with urllib.request.urlopen(f"{base}/_emulator/sent", timeout=5) as resp:
            assert json.load(resp) == []
    finally:
        proc.terminate()
        proc.wait(10)
    assert proc.returncode == 0


def test_the_config_check_names_group_problems(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        dingtalk={
            "enabled": True,
            "client_id": "id",
            "client_secret": "s",
            "api_base": "api.dingtalk.com",
            "groups": {
                "a": {},
                "b": {"webhook_token": "t", "webhook_secret": "nope", "open_conversation_id": "c"},
            },
        },
    )
    problems = check_dingtalk(settings)
    assert "dingtalk.api_base must start with http:// or https://" in problems
    assert "dingtalk.groups.a: set open_conversation_id or webhook_token" in problems
    assert any("groups.b" in p and "not both" in p for p in problems)
    assert any("groups.b.webhook_secret" in p for p in problems)
    assert check_dingtalk(make_settings(tmp_path)) == []
