"""A DNS resolver the tests control, in-process: there is no DNS here, so names that resolve
to chosen addresses are made by patching `socket.getaddrinfo` (which the URL policy, httpcore
and `socket.create_connection` all call). Names it does not know go to the real resolver."""

import socket
from typing import Any


class FakeResolver:
    """Answers `name` with the address lists given to `answer`, one list per lookup; the last
    list repeats, and an empty list fails the lookup. Records every lookup of a known name in
    `lookups`."""

    def __init__(self) -> None:
        self._answers: dict[str, list[list[str]]] = {}
        self.lookups: list[str] = []

    def answer(self, name: str, *answers: list[str]) -> None:
        self._answers[name.lower()] = [list(a) for a in answers]

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        key = host.decode() if isinstance(host, bytes) else str(host)
        queue = self._answers.get(key.lower())
        if queue is None:
            return _real_getaddrinfo(host, port, *args, **kwargs)
        self.lookups.append(key)
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        if not addresses:  # an empty answer: the name does not resolve (now)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        number = int(port) if port is not None else 0
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, number, 0, 0) if ":" in address else (address, number),
            )
            for address in addresses
        ]


_real_getaddrinfo = socket.getaddrinfo
