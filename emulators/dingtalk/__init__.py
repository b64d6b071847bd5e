"""A local DingTalk Open Platform emulator (Stream gateway, OpenAPI, old API, contacts)."""

from emulators.dingtalk.contacts import Department, Person
from emulators.dingtalk.emulator import DingTalkEmulator
from emulators.dingtalk.state import Card, Sent

__all__ = ["Card", "Department", "DingTalkEmulator", "Person", "Sent"]
