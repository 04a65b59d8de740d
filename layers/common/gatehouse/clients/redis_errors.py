"""Which Redis failures are outages: shared by every adapter that runs a script on Redis.

An outage is Redis being unable to decide right now (unreachable, timed out, or an error reply
such as OOM or READONLY); the caller's local fallback decides instead (docs/rate-limits.md#when-redis-fails,
docs/resilience.md#when-redis-fails). Any other error reply is a defect of ours (a script error).
"""

from __future__ import annotations

import re
import socket

from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

TIMEOUTS = (RedisTimeoutError, socket.timeout, TimeoutError)
# Error replies of a Redis that cannot decide right now: memory full under `noeviction`, a replica
# during a failover, a dataset loading, a script hogging the server, a cluster reconfiguring, a
# server that stopped accepting writes after a failed snapshot (MISCONF).
OUTAGE_REPLIES = frozenset(
    {"OOM", "READONLY", "LOADING", "BUSY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "NOREPLICAS", "MISCONF"}
)
# Redis before 7 wraps the error of a script's redis.call: "ERR Error running script (...): ... -OOM ...".
_WRAPPED_REPLY = re.compile(rf"-({'|'.join(sorted(OUTAGE_REPLIES))})\b")


# redis-py's prefix to a pipelined command's error: "Command # <n> (<the command, keys and all>) of
# pipeline caused error: <the reply>".
_PIPELINE_ERROR = " of pipeline caused error: "


def reply_text(error: ResponseError) -> str:
    """The error reply's text (less the code redis-py stripped, if any), without redis-py's
    annotation of a pipelined command's error."""
    message = str(error)
    _, pipelined, reply = message.partition(_PIPELINE_ERROR)
    return reply if pipelined else message


def outage_code(error: ResponseError) -> str | None:
    """The error code of a reply that means Redis cannot decide now (OUTAGE_REPLIES), else None."""
    # redis-py strips the codes it knows (OOM, READONLY, ...) into `status_code`; others lead the text.
    message = reply_text(error)
    code = getattr(error, "status_code", None) or message.split(" ", 1)[0]
    if code in OUTAGE_REPLIES:
        return code
    wrapped = _WRAPPED_REPLY.search(message) if code == "ERR" else None
    return wrapped.group(1) if wrapped else None
