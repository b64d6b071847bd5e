"""What the supervisor's board (bot/web/board) reads and writes, as small query functions.

Each page's data comes from one function here, scoped by :class:`~domain.board.scope.Scope` (the same
rules as the chat: domain/access.py); the web layer only renders.
"""
