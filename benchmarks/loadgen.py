"""The load generator of the HTTP scenarios: `wrk` (C, event loop: never the bottleneck of a
Python server) when installed, otherwise a thread pool of httpx clients. One `load()` call is
one measurement: `connections` connections kept alive for `seconds`, every answer checked
(HTTP 2xx and OCPI status_code 1000), latency percentiles and requests per second returned.

A body may contain `__STAMP__`: every request gets a fresh, increasing OCPI DateTime there
(a count of seconds after 2024-01-01, continued across measurements), so that repeated PUTs
and PATCHes are real updates, not replays the server could skip. With `cycle=N`, `__N__` in
the URL and the body becomes 1..N in turn (the request addresses one of N objects).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx  # noqa: TID251 - a client of the hub, not the hub's outbound calls

STAMP = "__STAMP__"
NUMBER = "__N__"
EPOCH_2024 = 1_704_067_200  # 2024-01-01T00:00:00Z
# A Lua script for wrk: method, headers and a body template from a JSON file; each response
# checked; done() prints one JSON line with the figures (latency in microseconds).
WRK_SCRIPT = r"""
local spec_path = os.getenv("LOADGEN_SPEC")
local threads = {}
local counter = 0
local tid = 0
local nthreads = 1
local base = 0
bad = 0
first_bad = ""

local function read_all(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local spec = read_all(spec_path)
  method = spec:match('^([^\n]*)\n')
  local rest = spec:sub(#method + 2)
  local nheaders, after = rest:match('^(%d+)\n()')
  rest = rest:sub(after)
  for _ = 1, tonumber(nheaders) do
    local line, next_at = rest:match('^([^\n]*)\n()')
    local name, value = line:match('^([^:]+): (.*)$')
    wrk.headers[name] = value
    rest = rest:sub(next_at)
  end
  template = rest
  nthreads = tonumber(args[1])
  base = tonumber(args[2])
  cycle = tonumber(args[3])
  path_template = wrk.path
  has_stamp = template:find("__STAMP__", 1, true) ~= nil or cycle > 0
  if not has_stamp then
    wrk.method = method
    if #template > 0 then wrk.body = template end
  end
end

function request()
  if not has_stamp then return wrk.request() end
  counter = counter + 1
  local sequence = counter * nthreads + tid
  local stamp = os.date("!%Y-%m-%dT%H:%M:%SZ", base + sequence)
  local body = template:gsub("__STAMP__", stamp)
  local path = path_template
  if cycle > 0 then
    local number = tostring(sequence % cycle + 1)
    body = body:gsub("__N__", number)
    path = path:gsub("__N__", number)
  end
  return wrk.format(method, path, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 or not body:find('"status_code"%s*:%s*1000') then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. body:sub(1, 300) end
  end
end

function done(summary, latency, requests)
  local total_bad = 0
  local sample = ""
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    if sample == "" then sample = t:get("first_bad") end
  end
  io.write(string.format(
    'LOADGEN {"requests": %d, "seconds": %f, "p50_us": %f, "p99_us": %f, "bad": %d, ' ..
    '"socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    total_bad,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
  io.write("LOADGEN_BAD " .. sample:gsub("\n", " ") .. "\n")
end
"""


@dataclass
class Load:
    """One measurement."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    bad: int
    first_bad: str = ""

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def machine_load() -> str:
    """The 1-minute load average against the cores: on a shared machine the figures of a run
    mean little when other work holds the cores (printed with every scenario's results)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"load average {os.getloadavg()[0]:.1f} on {cores} cores"


def generator() -> str:
    """ "wrk" when installed, else "httpx threads" (what `load` will use)."""
    return "wrk" if shutil.which("wrk") else "httpx threads"


class Stamps:
    """Increasing stamps across measurements (each `load` call continues after the last)."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> int:
        start, self.next = self.next, self.next + count
        return start


STAMPS = Stamps()


def load(
    url: str,
    method: str = "GET",
    *,
    headers: Mapping[str, str] | None = None,
    body: str = "",
    connections: int = 1,
    seconds: float = 2.0,
    cycle: int = 0,
) -> Load:
    """`connections` keep-alive connections sending `method url` for `seconds` (wrk counts
    whole seconds: at least 1)."""
    if shutil.which("wrk"):
        return _wrk(url, method, dict(headers or {}), body, connections, seconds, cycle)
    return _threads(url, method, dict(headers or {}), body, connections, seconds, cycle)


def _wrk(
    url: str,
    method: str,
    headers: dict[str, str],
    body: str,
    connections: int,
    seconds: float,
    cycle: int,
) -> Load:
    threads = max(1, min(connections, 2))
    base = EPOCH_2024 + STAMPS.take(10_000_000)
    with tempfile.TemporaryDirectory(prefix="loadgen-") as folder:
        script = Path(folder) / "load.lua"
        script.write_text(WRK_SCRIPT)
        spec = Path(folder) / "spec"
        lines = [method, str(len(headers)), *(f"{k}: {v}" for k, v in headers.items())]
        spec.write_text("\n".join(lines) + "\n" + body)
        command = [
            "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "15s", "-s", str(script), url, "--", str(threads), str(base), str(cycle),
        ]  # fmt: skip
        done = subprocess.run(  # noqa: S603 - wrk from PATH, our arguments
            command,
            capture_output=True,
            text=True,
            timeout=max(1, round(seconds)) + 30,
            env={"LOADGEN_SPEC": str(spec), "PATH": "/usr/bin:/bin:/usr/local/bin"},
            check=False,
        )
    figures = None
    sample = ""
    for line in done.stdout.splitlines():
        if line.startswith("LOADGEN "):
            figures = json.loads(line.removeprefix("LOADGEN "))
        elif line.startswith("LOADGEN_BAD "):
            sample = line.removeprefix("LOADGEN_BAD ").strip()
    if done.returncode != 0 or figures is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    return Load(
        requests=figures["requests"],
        seconds=figures["seconds"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        bad=figures["bad"] + figures["socket_errors"],
        first_bad=sample,
    )


def _stamp(second: int) -> str:
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=second)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _threads(
    url: str,
    method: str,
    headers: dict[str, str],
    body: str,
    connections: int,
    seconds: float,
    cycle: int,
) -> Load:
    base = STAMPS.take(10_000_000)
    latencies: list[list[float]] = [[] for _ in range(connections)]
    bad = [0] * connections
    first_bad: list[str] = []
    deadline = time.perf_counter() + seconds

    def run(index: int) -> None:
        with httpx.Client(timeout=15) as client:
            count = 0
            while time.perf_counter() < deadline:
                count += 1
                sequence = count * connections + index
                content = body.replace(STAMP, _stamp(base + sequence))
                target = url
                if cycle:
                    number = str(sequence % cycle + 1)
                    content, target = content.replace(NUMBER, number), url.replace(NUMBER, number)
                started = time.perf_counter()
                answer = client.request(method, target, headers=headers, content=content or None)
                latencies[index].append(time.perf_counter() - started)
                if not answer.is_success or answer.json().get("status_code") != 1000:
                    bad[index] += 1
                    if not first_bad:
                        first_bad.append(f"{answer.status_code} {answer.text[:300]}")

    started = time.perf_counter()
    workers = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(seconds + 30)
    elapsed = time.perf_counter() - started
    every = sorted(x for per in latencies for x in per)
    if not every:
        raise RuntimeError(f"no request completed against {url}")
    p99 = every[min(len(every) - 1, round(0.99 * (len(every) - 1)))]
    return Load(
        requests=len(every),
        seconds=elapsed,
        p50_ms=statistics.median(every) * 1000,
        p99_ms=p99 * 1000,
        bad=sum(bad),
        first_bad=first_bad[0] if first_bad else "",
    )
