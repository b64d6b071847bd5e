"""A real headless browser (Debian's chromium through Playwright; never a downloaded browser build)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, BrowserContext, ViewportSize, async_playwright

from tests.web.board.kit import CHROMIUM, CHROMIUM_ARGS

PHONE: ViewportSize = {"width": 375, "height": 812}
DESKTOP: ViewportSize = {"width": 1280, "height": 860}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip("chromium is not installed (scripts/setup.sh installs it as root)")
    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


@pytest.fixture
async def desktop(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN")
    yield context
    await context.close()


@pytest.fixture
async def phone(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN")
    yield context
    await context.close()
