"""A local WeCom (企业微信) for tests, benchmarks and demos: the API emulator and a callback sender.

* :class:`emulators.wecom.server.WeComEmulator`: gettoken, message/send, update_template_card,
  media/get, media/upload, oa/getapprovaldetail, appchat/send, webhook/send + upload_media,
  department/list, user/list; records every request.
* :class:`emulators.wecom.callbacks.CallbackSender`: encrypts (independently of wechatpy), signs and
  posts callbacks to the bot.
* :mod:`emulators.wecom.samples`, :mod:`emulators.wecom.approvals`: payload builders.
"""

from emulators.wecom.callbacks import CallbackSender, Posted
from emulators.wecom.server import WeComEmulator

__all__ = ["CallbackSender", "Posted", "WeComEmulator"]
