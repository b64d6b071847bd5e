"""One contract, every channel: what a user sees must not depend on the platform."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.testing import make_settings
from tests.channels.providers import PROVIDERS, load
from tests.core.formkit import FORMKIT_MODULES

FORMS = Path(__file__).resolve().parents[1] / "core" / "forms_alltypes.toml"


@pytest.fixture(params=sorted(PROVIDERS))
def provider_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _harness_args(tmp_path: Path) -> dict[str, object]:
    return {"settings": make_settings(tmp_path, forms={"path": str(FORMS)}), "modules": FORMKIT_MODULES}


async def test_text_in_reply_out(provider_name: str, tmp_path: Path) -> None:
    async with load(provider_name)(tmp_path, **_harness_args(tmp_path)) as platform:
        await platform.add_user("wanglei", "王磊")
        await platform.user_says("wanglei", "帮助")
        replies = platform.received("wanglei")
        assert len(replies) == 1 and "我能帮你做这些" in replies[0]


async def test_redelivered_message_is_handled_once(provider_name: str, tmp_path: Path) -> None:
    async with load(provider_name)(tmp_path, **_harness_args(tmp_path)) as platform:
        await platform.add_user("wanglei", "王磊")
        await platform.user_says("wanglei", "帮助", redeliver=True)
        assert len(platform.received("wanglei")) == 1


async def test_unknown_sender_gets_a_polite_answer(provider_name: str, tmp_path: Path) -> None:
    async with load(provider_name)(tmp_path, **_harness_args(tmp_path)) as platform:
        await platform.add_user("boss", "周敏", roles=("admin",))
        await platform.stranger_says("stranger-001", "你好")
        assert any("还没有开通" in t for t in platform.received("stranger-001"))
        assert any("新用户请求使用" in t for t in platform.received("boss"))


async def test_choice_prompt_can_be_answered(provider_name: str, tmp_path: Path) -> None:
    async with load(provider_name)(tmp_path, **_harness_args(tmp_path)) as platform:
        await platform.add_user("wanglei", "王磊")
        await platform.user_says("wanglei", "测试表单")
        question = platform.received("wanglei")[-1]
        assert "类型？" in question and "交付延迟" in question
        await platform.choose("wanglei", 2)
        assert "标签？" in platform.received("wanglei")[-1]
