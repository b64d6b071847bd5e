"""Files in and out: received media via ``/v1.0/robot/messageFiles/download`` (downloadCode →
temporary downloadUrl → GET), files we send via the old host's ``/media/upload`` (our own client: the
SDK's upload is hard-wired to oapi.dingtalk.com)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.channels.dingtalk.api import ApiError, OpenApi

MAX_BYTES = 25 * 1024 * 1024
FILE_TYPES = {"xlsx", "pdf", "zip", "rar", "doc", "docx"}


async def download(api: OpenApi, robot_code: str, download_code: str) -> tuple[bytes, str]:
    """The bytes and the content type of a file someone sent the robot."""
    answer = await api.call(
        "POST",
        "/v1.0/robot/messageFiles/download",
        api="download",
        json={"downloadCode": download_code, "robotCode": robot_code},
    )
    link = answer.get("downloadUrl")
    if not isinstance(link, str) or not link:
        raise ApiError("messageFiles/download returned no downloadUrl", transient=False)
    data, content_type = await api.download(link, MAX_BYTES)
    if len(data) > MAX_BYTES:
        raise ApiError(f"file larger than {MAX_BYTES // 1048576} MB", transient=False)
    return data, content_type


def file_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return ext if ext in FILE_TYPES else "file"


async def upload(api: OpenApi, path: Path, name: str, mime: str, kind: str = "file") -> str:
    """Upload a file; returns its ``media_id`` (used as ``mediaId`` in sampleFile)."""
    data = await asyncio.to_thread(path.read_bytes)

    def form() -> aiohttp.FormData:
        body = aiohttp.FormData()
        body.add_field("type", kind)
        body.add_field("media", data, filename=name, content_type=mime or "application/octet-stream")
        return body

    answer = await api.oapi("/media/upload", api="upload", form=form, params={"type": kind})
    media_id = answer.get("media_id")
    if not isinstance(media_id, str) or not media_id:
        raise ApiError("media/upload returned no media_id", transient=True)
    return media_id
