"""The client's sync logic, without I/O: one engine for every transport.

:class:`SyncEngine` is what the asyncio client and the network simulation drive. Its parts:

* :mod:`._replicas` -- documents, their store, and the server's version of each;
* :mod:`._session_sync` -- the WebSocket transport: one protocol session at a time;
* :mod:`._http_sync` -- the HTTP fallback: one request per document sync.

Time is always passed in; nothing here touches a socket.
"""

from __future__ import annotations

from synckit.client._http_sync import HTTP_MEDIA_TYPE, HttpOutcome, HttpSync
from synckit.client._session_sync import SessionSync

__all__ = ["HTTP_MEDIA_TYPE", "HttpOutcome", "SyncEngine"]


class SyncEngine(SessionSync, HttpSync):
    """Documents of one replica and their sync, over a protocol session or HTTP requests.

    See :class:`~synckit.client._replicas.ReplicaSet` for the arguments.
    """

    def close(self) -> None:
        """Snapshot documents with a log into the store and stop (the store stays open)."""
        self.store_pending()  # (a failing store fails the snapshots below too)
        for doc_id, rep in list(self._replicas.items()):
            rep.unsubscribe()
            if rep.logged.log_count:
                self._compact(doc_id, rep)
        self._replicas.clear()
        self.connection_lost()  # the others' presence is forgotten
        self._presence.clear()
        self._deletions.clear()
