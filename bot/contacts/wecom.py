"""The WeCom contact source: ``department/list`` and ``user/list`` through the app's client (docs/org.md).

wechatpy is synchronous, so the whole read runs in a worker thread; a fresh client (and token) per run.
"""

from __future__ import annotations

import asyncio

from bot.channels.wecom.client import WeComClient
from bot.channels.wecom.contacts import ContactsReadError, fetch_directory
from config.settings import WeComSettings
from domain.contacts import ContactsError, Department, Directory, Member, Platform

HTTP_TIMEOUT_S = 10.0
PERMISSION_HINTS = {
    60011: "the app may not read these contacts: add the departments to the app's visibility range "
    "(应用管理 → 可见范围) — the sync reads exactly what the app can see",
    48002: "the API is forbidden for this secret: use the self-built app's own secret (wecom.secret)",
    60020: "this server's IP is not in the app's trusted IPs (企业可信IP)",
    40001: "the secret was refused: check wecom.corp_id / wecom.secret",
    40013: "the corp id was refused: check wecom.corp_id",
}


def explain(exc: ContactsReadError) -> str:
    hint = PERMISSION_HINTS.get(exc.errcode or 0, "")
    return f"{exc}" + (f" ({hint})" if hint else "")


class WeComContacts:
    """Reads the departments in the app's visibility range and their members."""

    platform: Platform = "wecom"

    def __init__(self, settings: WeComSettings, *, timeout_s: float = HTTP_TIMEOUT_S) -> None:
        self.settings = settings
        self.timeout_s = timeout_s

    def _read(self) -> Directory:
        s = self.settings
        client = WeComClient(
            s.corp_id,
            s.secret.get_secret_value(),
            api_base=s.api_base,
            agent_id=s.agent_id,
            timeout=self.timeout_s,
        )
        try:
            departments, members = fetch_directory(client)
        except ContactsReadError as exc:
            raise ContactsError(explain(exc)) from exc
        finally:
            client._http.close()
        return Directory(
            "wecom",
            tuple(Department(**d) for d in departments),
            tuple(Member(**m) for m in members),
        )

    async def fetch(self) -> Directory:
        return await asyncio.to_thread(self._read)
