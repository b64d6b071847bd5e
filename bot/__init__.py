"""The runtime: channel adapters, neutral event/message types, dispatcher, inbox, outbox, CLI.

``core.events`` and ``core.messages`` are plain data with no other imports from ``bot``; they are the
shared vocabulary that handlers and scheduled jobs use (see docs/architecture.md).
"""
