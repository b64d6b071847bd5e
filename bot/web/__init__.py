"""The bot's one HTTP server (``web.listen``): the board, ``/healthz`` and ``/metrics``.

Each module named in ``WEB_MODULES`` defines ``setup(app: aiohttp.web.Application, bot: Application)``
and adds its routes; the server calls them in order when it starts.
"""

from __future__ import annotations

WEB_MODULES: tuple[str, ...] = ("bot.web.health", "bot.web.board")
