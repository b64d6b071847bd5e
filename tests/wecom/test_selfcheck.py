"""`actionflow wecom selfcheck` explains setup mistakes in plain words and never prints secrets."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from bot.cli.main import main
from emulators.wecom import WeComEmulator
from tests.wecom.world import AES_KEY, AGENT_ID, CORP_ID, SECRET, TOKEN, wecom_world

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path, **wecom: object) -> Path:
    values: dict[str, object] = {
        "enabled": True,
        "corp_id": CORP_ID,
        "agent_id": AGENT_ID,
        "secret": SECRET,
        "token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "public_url": "https://bot.example.com",
        "visit_template_ids": ["T1"],
    }
    values.update(wecom)
    lines = ["[wecom]"]
    for key, value in values.items():
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]".replace("'", '"'))
        elif isinstance(value, bool):
            lines.append(f"{key} = {str(value).lower()}")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    path = tmp_path / "actionflow.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def selfcheck(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["--config", str(path), "wecom", "selfcheck", *extra])
    out = capsys.readouterr()
    return code, out.out + out.err


def no_secrets(text: str) -> None:
    for secret in (SECRET, AES_KEY, AES_KEY[:20]):
        assert secret not in text


def test_a_good_setup(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = selfcheck(config(tmp_path), capsys)
    assert code == 0, out
    assert "https://bot.example.com/wecom/callback" in out
    for label in ("URL verification (GET)", "encrypted message (POST)", "forged signature refused"):
        assert f"{label}".ljust(28) + " ok" in out
    assert "Everything checked is in order." in out
    no_secrets(out)


def test_typical_mistakes_in_plain_words(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = config(
        tmp_path,
        corp_id="ww5823bf96d3bd56c",
        token="QDG6 eK",
        encoding_aes_key=AES_KEY[:-1],
        public_url="http://127.0.0.1:8080",
        secret="",
        visit_template_ids=[],
    )
    code, out = selfcheck(path, capsys)
    assert code == 1
    assert "does not look like a CorpID" in out
    assert "wecom.secret is empty" in out
    assert "only letters and digits" in out
    assert "has 42 characters; WeCom's is exactly 43" in out
    assert "WeCom's servers cannot reach" in out
    assert "approval callbacks will be ignored" in out
    no_secrets(out)

    code, out = selfcheck(config(tmp_path, encoding_aes_key=AES_KEY[:-1] + "/"), capsys)
    assert code == 1 and "only letters and digits; found '/'" in out


def test_online_token_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with WeComEmulator(corp_id=CORP_ID, secret=SECRET, agent_id=AGENT_ID) as emu:
        code, out = selfcheck(config(tmp_path, api_base=emu.base_url), capsys, "--online")
        assert code == 0 and "CorpID and Secret accepted" in out
        code, out = selfcheck(config(tmp_path, api_base=emu.base_url, secret="wrong"), capsys, "--online")
        assert code == 1 and "the Secret does not belong to this CorpID" in out
        no_secrets(out)


async def test_probe_of_the_running_bot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bot_dir = tmp_path / "bot"
    bot_dir.mkdir()
    async with wecom_world(bot_dir) as w:
        w.bot.clock.set(datetime.now(UTC))  # the probe signs with the real time
        url = w.channel.callback_url
        code, out = await asyncio.to_thread(selfcheck, config(tmp_path), capsys, "--probe", url)
        assert code == 0 and "echoes correctly" in out
        other_key = "A" * 42 + "A"
        code, out = await asyncio.to_thread(
            selfcheck, config(tmp_path, encoding_aes_key=other_key), capsys, "--probe", url
        )
        assert code == 1 and "could not decrypt" in out
        code, out = await asyncio.to_thread(
            selfcheck, config(tmp_path, token="other"), capsys, "--probe", url
        )
        assert code == 1 and "refused the signature" in out
    code, out = await asyncio.to_thread(
        selfcheck, config(tmp_path), capsys, "--probe", "http://127.0.0.1:9/wecom/callback"
    )
    assert code == 1 and "cannot connect" in out


def test_check_config_includes_the_static_checks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["--config", str(config(tmp_path, token="bad token")), "check-config"])
    out = capsys.readouterr().out
    assert "wecom.token may contain only letters and digits" in out


def test_emulator_runs_in_the_foreground(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACTIONFLOW_")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--config", str(config(tmp_path)), "wecom", "emulator", "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("WeCom emulator on http://127.0.0.1:"), first
        base = first.split(" on ", 1)[1].strip()
        got = requests.get(
            f"{base}/cgi-bin/gettoken", params={"corpid": CORP_ID, "corpsecret": SECRET}, timeout=5
        )
        assert got.json()["errcode"] == 0
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
