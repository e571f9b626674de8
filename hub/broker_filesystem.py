"""The embedded default's broker: kombu's filesystem transport, with messages written whole.

kombu's `filesystem.Channel._put` creates `<stamp>_<uuid>.<queue>.msg` empty, then locks and
writes it; a consumer listing the folder in between moves and reads an empty file, and the
JSONDecodeError that follows stops the worker (seen in `make demo` under load: the worker
exited 1 mid-broadcast). Here a message is written under a name no consumer matches, then
renamed into place: `os.replace` in one folder is atomic on POSIX, so a consumer sees either
no file or the whole message. Everything else is kombu's.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # The override matches kombu's filesystem Channel; its stubs give the virtual base another
    # signature, hence the ignore.
    def _put(self, queue: str, payload: dict[str, Any], **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # ".part" after ".msg": `_get` only takes names whose text after the first dot is
        # exactly "<queue>.msg", so a half-written file is never picked up.
        partial = final + ".part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel


def install() -> None:
    """Make `filesystem://` (the embedded default's CELERY_BROKER_URL) mean this transport, in
    every process that imports the Celery app: the web publishes, the worker consumes."""
    TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
