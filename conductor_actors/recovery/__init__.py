"""The durable outbox: results whose update failed after every attempt are kept on disk and
delivered when the server is back (``RecoveryActor``), inspected with
``python -m conductor_actors outbox``."""

from __future__ import annotations

from ..settings import RecoverySettings, RecoverySettingsError, default_state_dir
from ._actor import RecoveryActor, RecoverySink
from ._journal import DEFAULT_FILE_NAME, Journal, JournalEntry, JournalError, ServerIdentity, normalise_api_root

__all__ = [
    "DEFAULT_FILE_NAME",
    "Journal",
    "JournalEntry",
    "JournalError",
    "RecoveryActor",
    "RecoverySettings",
    "RecoverySettingsError",
    "RecoverySink",
    "ServerIdentity",
    "default_state_dir",
    "normalise_api_root",
]
