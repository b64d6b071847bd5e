"""Starts and stops the aiohttp server that the web modules (``bot.web.WEB_MODULES``) add routes to."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from config.settings import WebSettings

if TYPE_CHECKING:
    from bot.app import Application

log = logging.getLogger(__name__)

APP_KEY: web.AppKey[Application] = web.AppKey("actionflow", object)  # type: ignore[arg-type]


def split_host_port(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"web.listen must be host:port, got {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def build_app(bot: Application, modules: Sequence[str]) -> web.Application:
    """The aiohttp application with every module's routes (tests may serve it themselves)."""
    app = web.Application(client_max_size=1024 * 1024)
    app[APP_KEY] = bot
    for name in modules:
        importlib.import_module(name).setup(app, bot)
    return app


class WebServer:
    def __init__(self, settings: WebSettings, bot: Application, modules: Sequence[str]) -> None:
        self.settings = settings
        self._bot = bot
        self._modules = tuple(modules)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """Where people reach the server: ``web.public_url``, else the local address."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        host, _ = split_host_port(self.settings.listen)
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        host, port = split_host_port(self.settings.listen)
        runner = web.AppRunner(build_app(self._bot, self._modules), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise RuntimeError(
                f"web.listen {self.settings.listen}: cannot listen there ({exc.strerror or exc}); "
                'choose another port or set web.listen = "" to turn the web server off'
            ) from exc
        self._runner = runner
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("web server listening", extra={"listen": f"{host}:{self.port}"})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
