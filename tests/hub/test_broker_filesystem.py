"""The embedded default's broker writes each message whole (hub/broker_filesystem.py)."""

import json
import os
from pathlib import Path

from kombu import Connection

from hub.broker_filesystem import Channel


def _folders(tmp_path: Path) -> dict[str, str]:
    """Every folder the transport writes, under tmp_path (kombu's defaults are relative to the
    working directory: `control/` would land in the checkout)."""
    for name in ("done", "control"):
        os.makedirs(tmp_path / name, exist_ok=True)
    return {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
        "processed_folder": str(tmp_path / "done"),
        "control_folder": str(tmp_path / "control"),
    }


def test_filesystem_urls_use_the_whole_message_transport(tmp_path: Path) -> None:
    options = _folders(tmp_path)
    with Connection("filesystem://", transport_options=options) as connection:
        assert isinstance(connection.default_channel, Channel)


def test_a_message_appears_only_whole_and_round_trips(tmp_path: Path) -> None:
    options = _folders(tmp_path)
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("q1")
        queue.put({"delivery": 42})
        names = os.listdir(tmp_path)
        messages = [n for n in names if n.endswith(".q1.msg")]
        # no partial file is left behind, and the message file holds the whole JSON
        assert len(messages) == 1 and not [n for n in names if n.endswith(".part")]
        assert json.loads((tmp_path / messages[0]).read_text())["body"]
        assert queue.get(timeout=2).payload == {"delivery": 42}
        queue.close()


def test_a_half_written_file_is_never_taken(tmp_path: Path) -> None:
    """What a consumer sees while a publisher writes: the `.part` name, which `_get` skips."""
    options = _folders(tmp_path)
    (tmp_path / "1_abc.q2.msg.part").write_bytes(b"")
    with Connection("filesystem://", transport_options=options) as connection:
        queue = connection.SimpleQueue("q2")
        try:
            queue.get(timeout=0.3)
        except queue.Empty:
            pass
        else:  # pragma: no cover - the failure being tested for
            raise AssertionError("a partial file was consumed")
        assert (tmp_path / "1_abc.q2.msg.part").exists()
        queue.close()
