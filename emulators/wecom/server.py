"""A local WeCom (企业微信) API emulator: the endpoints a self-built app calls, on 127.0.0.1.

    emu = WeComEmulator(corp_id="ww-test", secret="s3cret", agent_id=1000002).start()
    ... point the bot's ``wecom.api_base`` at ``emu.base_url`` ...
    emu.stop()

It runs its own event loop in a thread (the bot's wechatpy client is synchronous and calls it from
worker threads). Everything it receives is recorded (:attr:`requests`); what it delivered is kept per
kind (:attr:`messages`, :attr:`appchat`, :attr:`webhooks`, :attr:`card_updates`). Hooks for tests:
:meth:`expire_tokens`, :meth:`fail_next`, :meth:`add_media`, :meth:`add_approval`,
:meth:`set_contacts`, :meth:`issue_click_code`, :meth:`drop_response_next`.

Behaviour follows WeCom's server API documentation (errcodes and limits as the real service answers):

* ``gettoken`` checks corpid (40013) and corpsecret (40001); every other app endpoint needs a known
  token (40014), and a token made stale by :meth:`expire_tokens` answers 42001 until a fresh one is
  fetched, so a client that refetches once recovers and one that never refetches keeps failing.
* JSON bodies are read from the raw bytes whatever the Content-Type (wechatpy sends none).
* ``message/send`` checks ``agentid``, ``msgtype`` and the template-card essentials, answers
  ``invaliduser`` for unknown recipients (when :attr:`valid_userids` is set) and a one-shot
  ``response_code`` for interactive cards; ``enable_duplicate_check`` suppresses a repeat of the
  same content to the same recipients within ``duplicate_check_interval`` seconds.
* ``message/update_template_card`` accepts each response code once.
* ``webhook/send`` allows ``webhook_rate_per_min`` sends per key per sliding minute, then 45009.
* ``department/list`` and ``user/list`` / ``user/simplelist`` serve fixtures set with
  :meth:`set_contacts` (for the organisation sync).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from emulators.loop_thread import LoopThread, serve

MSG_TYPES = {
    "text",
    "markdown",
    "file",
    "image",
    "voice",
    "video",
    "textcard",
    "news",
    "mpnews",
    "template_card",
}
INTERACTIVE_CARDS = {"button_interaction", "vote_interaction", "multiple_interaction"}
CARD_TYPES = INTERACTIVE_CARDS | {"text_notice", "news_notice"}
TASK_ID_CHARS = set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-@")
MEDIA_TYPES = {"image", "voice", "video", "file"}
UNKNOWN_SP_NO = 301025  # the real code for a missing sp_no is undocumented; any non-zero means failure


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    at: float


@dataclass
class _Failure:
    errcode: int
    errmsg: str
    times: int
    query: dict[str, str] = field(default_factory=dict)  # only calls with these query values

    def matches(self, query: dict[str, str]) -> bool:
        return all(query.get(k) == v for k, v in self.query.items())


@dataclass
class _Token:
    value: str
    expires_at: float
    stale: bool = False


@dataclass
class _Media:
    data: bytes
    filename: str
    mime: str
    webhook_key: str = ""


@dataclass
class _Card:
    task_id: str
    userid: str
    card: dict[str, Any]


@dataclass
class _State:
    tokens: dict[str, _Token] = field(default_factory=dict)
    media: dict[str, _Media] = field(default_factory=dict)
    cards: dict[str, _Card] = field(default_factory=dict)  # task_id -> card
    codes: dict[str, str] = field(default_factory=dict)  # unused response_code -> task_id
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    departments: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, deque[_Failure]] = field(default_factory=dict)
    webhook_sent: dict[str, deque[float]] = field(default_factory=dict)
    recent: dict[str, float] = field(default_factory=dict)  # duplicate-check fingerprint -> sent at
    drop_next: set[str] = field(default_factory=set)
    oauth_codes: dict[str, tuple[str, float]] = field(default_factory=dict)  # code -> (userid, expires)


def _ascii(name: str) -> str:
    return name.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")


def _json_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def _err(errcode: int, errmsg: str, **extra: Any) -> web.Response:
    return web.json_response({"errcode": errcode, "errmsg": errmsg, **extra})


def _ok(**extra: Any) -> web.Response:
    return web.json_response({"errcode": 0, "errmsg": "ok", **extra})


class WeComEmulator:
    def __init__(
        self,
        *,
        corp_id: str = "ww-emulator",
        secret: str = "emulator-secret",
        agent_id: int = 1000002,
        token_ttl_s: int = 7200,
        webhook_rate_per_min: int = 20,
        webhook_keys: set[str] | None = None,
        clock: Callable[[], float] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.token_ttl_s = token_ttl_s
        self.webhook_rate_per_min = webhook_rate_per_min
        self.webhook_keys = webhook_keys
        self.clock = clock or time.time
        self.host = host
        self.port = port
        self.valid_userids: set[str] | None = None
        self.valid_chat_ids: set[str] | None = None
        self.requests: list[Recorded] = []
        self.messages: list[dict[str, Any]] = []
        self.appchat: list[dict[str, Any]] = []
        self.webhooks: dict[str, list[dict[str, Any]]] = {}
        self.card_updates: list[dict[str, Any]] = []
        self.duplicates_suppressed: list[dict[str, Any]] = []
        self.on_message: Callable[[dict[str, Any]], None] | None = None
        # OAuth2 网页授权: who is signed in to the "WeCom client" that opens app pages (None: nobody).
        self.signed_in: str | None = None
        self._state = _State()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._thread = LoopThread("wecom-emulator")
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """What the bot's ``wecom.api_base`` should be (the client adds ``/cgi-bin/``)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> WeComEmulator:
        self._thread.start(self._serve, timeout=10)
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        self._thread.stop(shutdown, timeout=10)

    def __enter__(self) -> WeComEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        routes = {
            ("GET", "gettoken"): self._gettoken,
            ("POST", "message/send"): self._message_send,
            ("POST", "message/update_template_card"): self._update_card,
            ("GET", "media/get"): self._media_get,
            ("POST", "media/upload"): self._media_upload,
            ("POST", "oa/getapprovaldetail"): self._approval_detail,
            ("POST", "appchat/send"): self._appchat_send,
            ("POST", "webhook/send"): self._webhook_send,
            ("POST", "webhook/upload_media"): self._webhook_upload,
            ("GET", "department/list"): self._department_list,
            ("GET", "user/list"): self._user_list,
            ("GET", "user/simplelist"): self._user_list,
        }
        routes[("GET", "auth/getuserinfo")] = self._auth_getuserinfo
        for (method, path), fn in routes.items():
            app.router.add_route(method, f"/cgi-bin/{path}", self._wrap(path, fn))
        app.router.add_get("/connect/oauth2/authorize", self._oauth_authorize)
        self._runner, self.port = await serve(app, self.host, self.port)

    # -- test hooks ---------------------------------------------------------------
    def sign_in(self, userid: str | None) -> None:
        """The member whose WeCom client opens app pages (OAuth2 snsapi_base answers for them)."""
        self.signed_in = userid

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on (a fresh ``gettoken`` works)."""
        with self._lock:
            for token in self._state.tokens.values():
                token.stale = True

    def fail_next(
        self,
        path: str,
        errcode: int,
        errmsg: str = "injected",
        *,
        times: int = 1,
        query: dict[str, str] | None = None,
    ) -> None:
        """The next ``times`` calls to ``path`` (e.g. ``"message/send"``) answer ``errcode``; with
        ``query`` only calls carrying those query values (``{"department_id": "3"}``)."""
        failure = _Failure(errcode, errmsg, times, dict(query or {}))
        with self._lock:
            self._state.failures.setdefault(path, deque()).append(failure)

    def drop_response_next(self, path: str) -> None:
        """Process the next call to ``path`` fully, then answer HTTP 502 (a lost response)."""
        with self._lock:
            self._state.drop_next.add(path)

    def add_media(self, data: bytes, filename: str, mime: str) -> str:
        """Store a file as if a user had sent it; returns its media_id."""
        media_id = "M" + secrets.token_urlsafe(24)
        with self._lock:
            self._state.media[media_id] = _Media(data, filename, mime)
        return media_id

    def media(self, media_id: str) -> tuple[bytes, str, str]:
        with self._lock:
            m = self._state.media[media_id]
            return m.data, m.filename, m.mime

    def add_approval(self, info: dict[str, Any]) -> None:
        """An ``oa/getapprovaldetail`` answer (see :mod:`emulators.wecom.approvals`)."""
        with self._lock:
            self._state.approvals[str(info["sp_no"])] = info

    def set_contacts(self, departments: list[dict[str, Any]], users: list[dict[str, Any]]) -> None:
        """Fixtures for ``department/list`` and ``user/list``, in WeCom's own shapes:
        departments ``{"id", "name", "parentid", "order", "department_leader": [userid…]}``, users
        ``{"userid", "name", "department": [ids], "main_department", "is_leader_in_dept": [0|1…],
        "direct_leader": [userid…], "position", "mobile", "status"}``."""
        with self._lock:
            self._state.departments = [dict(d) for d in departments]
            self._state.users = [dict(u) for u in users]

    def card(self, task_id: str) -> dict[str, Any] | None:
        with self._lock:
            card = self._state.cards.get(task_id)
            return card.card if card else None

    def issue_click_code(self, task_id: str) -> str:
        """The one-shot ResponseCode WeCom puts into the click callback for ``task_id``."""
        code = "RC" + secrets.token_hex(12)
        with self._lock:
            self._state.codes[code] = task_id
        return code

    def burn_webhook_quota(self, key: str, count: int) -> None:
        """Count ``count`` sends against ``key`` now, as if another sender had used the robot."""
        now = self.clock()
        with self._lock:
            self._state.webhook_sent.setdefault(key, deque()).extend([now] * count)

    def calls(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def messages_to(self, userid: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.messages if userid in str(m.get("touser", "")).split("|")]

    # -- plumbing -----------------------------------------------------------------
    def _wrap(self, path: str, fn: Callable[[web.Request, Any], Any]) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            body: Any
            if request.content_type.startswith("multipart/"):
                body = await self._read_parts(request)
                recorded: Any = {name: (f, len(d), m) for name, (f, d, m) in body.items()}
            else:
                body = recorded = _json_body(await request.read())
            with self._lock:
                self.requests.append(
                    Recorded(request.method, path, dict(request.query), recorded, self.clock())
                )
                failures = self._state.failures.get(path) or deque()
                query = dict(request.query)
                failure = next((f for f in failures if f.matches(query)), None)
                if failure is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        failures.remove(failure)
            if failure is not None:
                return _err(failure.errcode, failure.errmsg)
            if path != "gettoken" and not path.startswith("webhook/"):
                problem = self._check_token(request.query.get("access_token", ""))
                if problem is not None:
                    return problem
            response: web.StreamResponse = await fn(request, body)
            with self._lock:
                drop = path in self._state.drop_next
                self._state.drop_next.discard(path)
            if drop:
                return web.Response(status=502, text="bad gateway")
            return response

        return handler

    @staticmethod
    async def _read_parts(request: web.Request) -> dict[str, tuple[str, bytes, str]]:
        """Multipart fields as ``name -> (filename, bytes, content type)``."""
        parts: dict[str, tuple[str, bytes, str]] = {}
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, BodyPartReader):
                data = await part.read(decode=True)
                parts[part.name or ""] = (
                    part.filename or "",
                    bytes(data),
                    part.headers.get("Content-Type", ""),
                )
        return parts

    def _check_token(self, value: str) -> web.Response | None:
        with self._lock:
            token = self._state.tokens.get(value)
        if token is None:
            return _err(40014, "invalid access_token")
        if token.stale or token.expires_at <= self.clock():
            return _err(42001, "access_token expired")
        return None

    # -- OAuth2 网页授权 (snsapi_base) ----------------------------------------------
    async def _oauth_authorize(self, request: web.Request) -> web.StreamResponse:
        """What WeCom does when an app page sends the member to authorize: straight back to
        ``redirect_uri`` with a five-minute, single-use ``code`` and the page's ``state``."""
        q = request.query
        with self._lock:
            self.requests.append(Recorded("GET", "oauth2/authorize", dict(q), None, self.clock()))
        if q.get("appid") != self.corp_id or q.get("scope") != "snsapi_base" or not q.get("redirect_uri"):
            return web.Response(status=400, text="参数错误", content_type="text/plain")
        if self.signed_in is None:
            return web.Response(text="请在企业微信客户端打开链接", content_type="text/plain")
        code = secrets.token_hex(16)
        with self._lock:
            self._state.oauth_codes[code] = (self.signed_in, self.clock() + 300)
        sep = "&" if "?" in q["redirect_uri"] else "?"
        target = f"{q['redirect_uri']}{sep}code={code}&state={quote(q.get('state', ''))}"
        raise web.HTTPFound(target)

    async def _auth_getuserinfo(self, request: web.Request, body: Any) -> web.Response:
        code = request.query.get("code", "")
        with self._lock:
            entry = self._state.oauth_codes.pop(code, None)
        if entry is None or entry[1] <= self.clock():
            return _err(40029, "invalid code")
        return _ok(userid=entry[0], user_ticket="")

    # -- endpoints ----------------------------------------------------------------
    async def _gettoken(self, request: web.Request, body: Any) -> web.Response:
        if request.query.get("corpid") != self.corp_id:
            return _err(40013, "invalid corpid")
        if request.query.get("corpsecret") != self.secret:
            return _err(40001, "invalid credential")
        value = "T" + secrets.token_hex(16)
        with self._lock:
            self._state.tokens[value] = _Token(value, self.clock() + self.token_ttl_s)
        return _ok(access_token=value, expires_in=self.token_ttl_s)

    def _duplicate(self, body: dict[str, Any], recipients: str) -> bool:
        """Every delivered message is remembered; one that asks for the check is dropped when the
        same content went to the same recipients within ``duplicate_check_interval``."""
        interval = float(body.get("duplicate_check_interval") or 1800)
        msgtype = str(body.get("msgtype"))
        content = json.dumps(body.get(msgtype), sort_keys=True, ensure_ascii=False)
        fingerprint = hashlib.sha256(f"{recipients}\n{msgtype}\n{content}".encode()).hexdigest()
        now = self.clock()
        with self._lock:
            last = self._state.recent.get(fingerprint)
            duplicate = (
                bool(body.get("enable_duplicate_check")) and last is not None and now - last < interval
            )
            if not duplicate:
                self._state.recent[fingerprint] = now
        return duplicate

    async def _message_send(self, request: web.Request, body: Any) -> web.Response:
        if not isinstance(body, dict):
            return _err(40035, "invalid json body")
        if not body.get("agentid"):
            return _err(40056, "invalid agentid")
        if int(body["agentid"]) != self.agent_id:
            return _err(301002, "agentid does not match the token")
        msgtype = body.get("msgtype")
        if msgtype not in MSG_TYPES or not isinstance(body.get(msgtype), dict):
            return _err(40008, "invalid message type")
        touser = str(body.get("touser") or "")
        if not touser:
            return _err(40035, "touser, toparty and totag are all empty")
        problem = self._check_content(msgtype, body[msgtype])
        if problem is not None:
            return problem
        users = [u for u in touser.split("|") if u]
        invalid = [u for u in users if self.valid_userids is not None and u not in self.valid_userids]
        if invalid and len(invalid) == len(users):
            return _err(81013, "user & party & tag all invalid", invaliduser="|".join(invalid))
        extra: dict[str, Any] = {"invaliduser": "|".join(invalid), "invalidparty": "", "invalidtag": ""}
        valid = "|".join(u for u in users if u not in invalid)
        if self._duplicate(body, valid):
            with self._lock:
                self.duplicates_suppressed.append(body)
            return _ok(msgid=f"dup{next(self._ids)}", **extra)
        if msgtype == "template_card":
            card = body["template_card"]
            task_id = str(card.get("task_id", ""))
            with self._lock:
                if task_id and task_id in self._state.cards:
                    return _err(40058, "task_id already exists")
                if task_id:
                    self._state.cards[task_id] = _Card(task_id, valid, card)
            if card.get("card_type") in INTERACTIVE_CARDS:
                extra["response_code"] = self.issue_click_code(task_id)
        with self._lock:
            self.messages.append(body)
        if self.on_message is not None:
            self.on_message(body)
        return _ok(msgid=f"msg{next(self._ids)}", **extra)

    def _check_content(self, msgtype: str, content: dict[str, Any]) -> web.Response | None:
        if msgtype in ("text", "markdown"):
            text = content.get("content")
            if not isinstance(text, str) or not text:
                return _err(41009, "missing content")
            if len(text.encode()) > 2048:
                return _err(45002, "content size out of limit")
        elif msgtype == "file":
            with self._lock:
                known = content.get("media_id") in self._state.media
            if not known:
                return _err(40007, "invalid media_id")
        elif msgtype == "template_card":
            return self._check_card(content)
        return None

    @staticmethod
    def _check_card(card: dict[str, Any]) -> web.Response | None:
        card_type = card.get("card_type")
        if card_type not in CARD_TYPES:
            return _err(40035, "invalid card_type")
        if not (card.get("main_title") or {}).get("title") and card_type != "text_notice":
            return _err(40035, "main_title.title required")
        if card_type not in INTERACTIVE_CARDS:
            return None
        task_id = card.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            return _err(40035, "task_id required for interactive cards")
        if len(task_id.encode()) > 128 or not set(task_id) <= TASK_ID_CHARS:
            return _err(40035, "invalid task_id")
        if card_type == "button_interaction":
            buttons = card.get("button_list") or []
            if not 1 <= len(buttons) <= 6 or not all(b.get("key") and b.get("text") for b in buttons):
                return _err(40035, "button_list needs 1-6 buttons with text and key")
        elif card_type == "vote_interaction":
            box = card.get("checkbox") or {}
            options = box.get("option_list") or []
            if not box.get("question_key") or not 1 <= len(options) <= 20:
                return _err(40035, "checkbox needs question_key and 1-20 options")
            if not (card.get("submit_button") or {}).get("key"):
                return _err(40035, "submit_button.key required")
        else:
            selects = card.get("select_list") or []
            if not 1 <= len(selects) <= 3 or not (card.get("submit_button") or {}).get("key"):
                return _err(40035, "select_list (1-3) and submit_button.key required")
        return None

    async def _update_card(self, request: web.Request, body: Any) -> web.Response:
        if not isinstance(body, dict) or not body.get("response_code"):
            return _err(40035, "response_code required")
        code = str(body["response_code"])
        with self._lock:
            task_id = self._state.codes.pop(code, None)
        if task_id is None:
            return _err(40035, "invalid or used response_code")
        with self._lock:
            self.card_updates.append({**body, "task_id": task_id})
        return _ok(invaliduser=[])

    async def _media_get(self, request: web.Request, body: Any) -> web.Response:
        media_id = request.query.get("media_id", "")
        with self._lock:
            media = self._state.media.get(media_id)
        if media is None or media.webhook_key:
            return _err(40007, "invalid media_id")
        return web.Response(
            body=media.data,
            headers={
                "Content-Type": media.mime,
                "Content-Disposition": (
                    f'attachment; filename="{_ascii(media.filename)}"; '
                    f"filename*=UTF-8''{quote(media.filename)}"
                ),
            },
        )

    async def _media_upload(self, request: web.Request, parts: Any) -> web.Response:
        kind = request.query.get("type", "")
        if kind not in MEDIA_TYPES:
            return _err(40004, "invalid media type")
        return self._store_upload(parts, kind)

    def _store_upload(self, parts: Any, kind: str, webhook_key: str = "") -> web.Response:
        if not isinstance(parts, dict) or "media" not in parts:
            return _err(41001, "missing media part")
        filename, data, mime = parts["media"]
        if len(data) <= 5:
            return _err(40005, "file is too small")
        media_id = "U" + secrets.token_urlsafe(24)
        with self._lock:
            self._state.media[media_id] = _Media(data, filename, mime, webhook_key)
        return _ok(type=kind, media_id=media_id, created_at=str(int(self.clock())))

    async def _approval_detail(self, request: web.Request, body: Any) -> web.Response:
        sp_no = str((body or {}).get("sp_no", ""))
        with self._lock:
            info = self._state.approvals.get(sp_no)
        if info is None:
            return _err(UNKNOWN_SP_NO, "sp_no not found")
        return _ok(info=info)

    async def _appchat_send(self, request: web.Request, body: Any) -> web.Response:
        if not isinstance(body, dict) or not body.get("chatid"):
            return _err(40035, "chatid required")
        if self.valid_chat_ids is not None and body["chatid"] not in self.valid_chat_ids:
            return _err(86003, "chat not found")
        msgtype = body.get("msgtype")
        if msgtype not in MSG_TYPES - {"template_card"} or not isinstance(body.get(msgtype), dict):
            return _err(40008, "invalid message type")
        problem = self._check_content(msgtype, body[msgtype])
        if problem is not None:
            return problem
        with self._lock:
            self.appchat.append(body)
        return _ok()

    def _webhook_key(self, request: web.Request) -> tuple[str, web.Response | None]:
        key = request.query.get("key", "")
        if not key or (self.webhook_keys is not None and key not in self.webhook_keys):
            return key, _err(93000, "invalid webhook url")
        return key, None

    async def _webhook_send(self, request: web.Request, body: Any) -> web.Response:
        key, problem = self._webhook_key(request)
        if problem is not None:
            return problem
        if not isinstance(body, dict):
            return _err(40035, "invalid json body")
        msgtype = body.get("msgtype")
        if msgtype not in {"text", "markdown", "file", "image", "news", "template_card", "voice"}:
            return _err(40008, "invalid message type")
        if msgtype == "file":
            with self._lock:
                media = self._state.media.get(str((body.get("file") or {}).get("media_id")))
            if media is None or media.webhook_key != key:
                return _err(40007, "invalid media_id")
        elif msgtype in ("text", "markdown"):
            content = (body.get(msgtype) or {}).get("content")
            limit = 2048 if msgtype == "text" else 4096
            if not isinstance(content, str) or not content or len(content.encode()) > limit:
                return _err(40035, f"{msgtype}.content must be 1-{limit} bytes")
        now = self.clock()
        with self._lock:
            sent = self._state.webhook_sent.setdefault(key, deque())
            while sent and sent[0] <= now - 60:
                sent.popleft()
            if len(sent) >= self.webhook_rate_per_min:
                return _err(45009, "api freq out of limit")
            sent.append(now)
            self.webhooks.setdefault(key, []).append(body)
        return _ok()

    async def _webhook_upload(self, request: web.Request, parts: Any) -> web.Response:
        key, problem = self._webhook_key(request)
        if problem is not None:
            return problem
        kind = request.query.get("type", "")
        if kind not in ("file", "voice"):
            return _err(40004, "invalid media type")
        return self._store_upload(parts, kind, webhook_key=key)

    def _subtree(self, root: int) -> list[dict[str, Any]]:
        with self._lock:
            departments = list(self._state.departments)
        wanted = {root}
        changed = True
        while changed:
            changed = False
            for d in departments:
                if int(d.get("parentid", 0)) in wanted and int(d["id"]) not in wanted:
                    wanted.add(int(d["id"]))
                    changed = True
        return [d for d in departments if int(d["id"]) in wanted]

    async def _department_list(self, request: web.Request, body: Any) -> web.Response:
        raw = request.query.get("id", "")
        if not raw:
            with self._lock:
                return _ok(department=list(self._state.departments))
        if not raw.isdigit():
            return _err(40035, "invalid id")
        found = self._subtree(int(raw))
        if not found:
            return _err(60123, "invalid party id")
        return _ok(department=found)

    async def _user_list(self, request: web.Request, body: Any) -> web.Response:
        raw = request.query.get("department_id", "")
        if not raw.isdigit():
            return _err(40035, "department_id required")
        department = int(raw)
        scope = {department}
        if request.query.get("fetch_child") in ("1", "True", "true"):
            scope = {int(d["id"]) for d in self._subtree(department)}
        with self._lock:
            known = {int(d["id"]) for d in self._state.departments}
            users = list(self._state.users)
        if department not in known:
            return _err(60123, "invalid party id")
        listed = [u for u in users if scope & {int(x) for x in u.get("department", [])}]
        if request.rel_url.path.endswith("simplelist"):
            listed = [
                {"userid": u["userid"], "name": u.get("name", ""), "department": u.get("department", [])}
                for u in listed
            ]
        return _ok(userlist=listed)
