"""Exceptions of the actor kernel.

Exception tree::

    RuntimeError
     +-- ActorDeadError        the actor has stopped (or died); the message was not delivered
          +-- MailboxClosed    the actor is stopping: its mailbox takes no new messages, while the
                               messages already queued are still processed

``ask`` also raises the builtin ``TimeoutError`` when no answer arrives in time.
"""

from __future__ import annotations

__all__ = ["ActorDeadError", "MailboxClosed"]


class ActorDeadError(RuntimeError):
    """The actor is not running: a message sent to it was not (and will not be) handled."""


class MailboxClosed(ActorDeadError):
    """The actor's mailbox is closed (the actor is stopping); the message was not accepted.

    A subclass of ``ActorDeadError`` so one ``except ActorDeadError`` covers "stopping" and
    "stopped".
    """
