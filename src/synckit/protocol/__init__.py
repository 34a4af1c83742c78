"""The SyncKit sync protocol, without I/O.

Sessions (:class:`ClientSession`, :class:`ServerSession`) turn protocol events into frame bytes
and back and enforce what may be sent when; the asyncio client, the ASGI server and the network
simulation all drive them. An HTTP sync request is played as a short session
(:class:`ServerHttpExchange`), so it meets exactly the same rules. See ``docs/protocol.md``
for the wire format.
"""

from __future__ import annotations

from synckit.protocol._events import (
    DELETE,
    MAX_DOC_ID_LENGTH,
    PRESENCE,
    PRESENCE_CODES,
    PROTOCOL_VERSION,
    VERSION_DELTAS,
    Ack,
    Broadcast,
    DeleteDoc,
    DocDeleted,
    Error,
    ErrorCode,
    Event,
    Hello,
    Ping,
    Pong,
    Presence,
    PresenceEntry,
    PresenceSet,
    Push,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Welcome,
    check_doc_id,
)
from synckit.protocol._frames import (
    FrameError,
    decode_frame,
    decode_numbered,
    encode_frame,
    encode_frame_body,
    encode_presence_body,
    encode_presence_entry,
    number_frame,
)
from synckit.protocol._http import (
    HTTP_MEDIA_TYPE,
    HttpSyncAnswer,
    HttpSyncRequest,
    ServerHttpExchange,
    decode_http_answer,
    encode_http_answer,
    encode_http_error,
    encode_http_request,
)
from synckit.protocol._session import (
    DEFAULT_MAX_FRAME_BYTES,
    ClientSession,
    DocState,
    ServerSession,
    Session,
)
from synckit.protocol._state import TRANSITIONS, Role, State

__all__ = [
    "DEFAULT_MAX_FRAME_BYTES",
    "DELETE",
    "HTTP_MEDIA_TYPE",
    "MAX_DOC_ID_LENGTH",
    "PRESENCE",
    "PRESENCE_CODES",
    "PROTOCOL_VERSION",
    "TRANSITIONS",
    "VERSION_DELTAS",
    "Ack",
    "Broadcast",
    "ClientSession",
    "DeleteDoc",
    "DocDeleted",
    "DocState",
    "Error",
    "ErrorCode",
    "Event",
    "FrameError",
    "Hello",
    "HttpSyncAnswer",
    "HttpSyncRequest",
    "Ping",
    "Pong",
    "Presence",
    "PresenceEntry",
    "PresenceSet",
    "Push",
    "Role",
    "ServerHttpExchange",
    "ServerSession",
    "Session",
    "State",
    "Subscribe",
    "Subscribed",
    "Unsubscribe",
    "Welcome",
    "check_doc_id",
    "decode_frame",
    "decode_http_answer",
    "decode_numbered",
    "encode_frame",
    "encode_frame_body",
    "encode_http_answer",
    "encode_http_error",
    "encode_http_request",
    "encode_presence_body",
    "encode_presence_entry",
    "number_frame",
]
