"""Run extrawest-ocpi (an independent OCPI 2.2.1 implementation) as partner platforms.

Pure standard library on purpose: no import from the project, so it can be
used from any test (pytest, xdist workers, scratch scripts).

extrawest-ocpi pins fastapi==0.101.1 / pydantic==1.10.12 / httpx==0.24.1, so it
lives in its own virtualenv (``<repo>/.venv-extrawest``), built on demand by
:func:`ensure_extrawest_venv` from ``tests/interop/extrawest/requirements.txt``.
Each :class:`ExtrawestPartner` runs ``tests/interop/extrawest/partner_app.py``
with that venv's interpreter on a free 127.0.0.1 port.

Example::

    with ExtrawestPartner(role="CPO", country_code="NL", party_id="EXW") as cpo:
        # hub-initiated registration: GET cpo.versions_url with Token A,
        # then POST the credentials endpoint ...
        state = cpo.state()              # what the partner stored/received
        cpo.call("GET", hub_details_url)  # partner -> hub with the token it holds

See tests/interop/extrawest/NOTES.md for how the library behaves on the wire.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
EXTRAWEST_DIR = HERE / "extrawest"
REQUIREMENTS = EXTRAWEST_DIR / "requirements.txt"
PARTNER_APP = EXTRAWEST_DIR / "partner_app.py"
VENV_DIR = REPO_ROOT / ".venv-extrawest"
HASH_FILE_NAME = ".requirements.sha256"

VENV_BUILD_TIMEOUT = 900.0  # seconds, per subprocess step
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
HTTP_TIMEOUT = 30.0


class ExtrawestError(RuntimeError):
    pass


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _requirements_digest() -> str:
    h = hashlib.sha256()
    h.update(REQUIREMENTS.read_bytes())
    # a venv is tied to the interpreter it was made from
    h.update(f"\n{sys.version_info[:3]}".encode())
    return h.hexdigest()


def _lock_path() -> Path:
    tag = hashlib.sha256(str(VENV_DIR).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"extrawest-venv-{tag}.lock"


def _venv_is_current(digest: str) -> bool:
    hash_file = VENV_DIR / HASH_FILE_NAME
    return (
        _venv_python(VENV_DIR).exists()
        and hash_file.exists()
        and hash_file.read_text().strip() == digest
    )


def _run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=VENV_BUILD_TIMEOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise ExtrawestError(f"timed out after {VENV_BUILD_TIMEOUT}s: {cmd}") from exc
    if proc.returncode != 0:
        raise ExtrawestError(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )


def ensure_extrawest_venv() -> Path:
    """Create/refresh ``<repo>/.venv-extrawest``; return its python executable.

    Rebuilt when missing or when requirements.txt (or the Python version)
    changed; the digest is stored in the venv. Serialised with an exclusive
    ``flock`` so concurrent pytest-xdist workers build it only once.
    """
    digest = _requirements_digest()
    if _venv_is_current(digest):
        return _venv_python(VENV_DIR)
    lock_file = _lock_path()
    with open(lock_file, "w") as lock:
        deadline = time.monotonic() + VENV_BUILD_TIMEOUT * 2
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ExtrawestError(f"timed out waiting for {lock_file}") from None
                time.sleep(0.5)
        try:
            if _venv_is_current(digest):  # another worker built it meanwhile
                return _venv_python(VENV_DIR)
            if VENV_DIR.exists():
                shutil.rmtree(VENV_DIR)
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
            }
            base_python = getattr(sys, "_base_executable", None) or sys.executable
            _run([base_python, "-m", "venv", str(VENV_DIR)], env=env)
            _run(
                [
                    str(_venv_python(VENV_DIR)),
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "-q",
                    "-r",
                    str(REQUIREMENTS),
                ],
                env=env,
            )
            _run([str(_venv_python(VENV_DIR)), "-c", "import py_ocpi, uvicorn"], env=env)
            (VENV_DIR / HASH_FILE_NAME).write_text(digest + "\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return _venv_python(VENV_DIR)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _http_json(
    method: str, url: str, payload: Any = None, timeout: float = HTTP_TIMEOUT
) -> tuple[int, Any]:
    data = None
    headers = {"Accept": "application/json"}
    if payload is not None:
        data = json.dumps(payload).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    # loopback only: never through a proxy from the environment
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class ExtrawestPartner:
    """An extrawest-ocpi CPO or eMSP in a subprocess (context manager).

    Attributes once started: ``base_url``, ``versions_url``, ``details_url``,
    ``token_a`` (the Credentials Token A it issued; send it as
    ``Authorization: Token base64(token_a)``), ``port``, ``log_path``.
    """

    def __init__(
        self,
        role: str = "CPO",
        country_code: str = "NL",
        party_id: str = "EXW",
        token_a: str | None = None,
        *,
        versions_path: str = "/ocpi/versions",
        keep_token_a: bool = False,
        ci_uppercase: bool = False,
        business_name: str | None = None,
        startup_timeout: float = STARTUP_TIMEOUT,
        log_dir: str | os.PathLike | None = None,
    ) -> None:
        role = role.upper()
        if role not in ("CPO", "EMSP"):
            raise ValueError(f"role must be CPO or EMSP, not {role!r}")
        self.role = role
        self.country_code = country_code
        self.party_id = party_id
        self.token_a = token_a or f"EXW-A-{secrets.token_hex(12)}"
        self.versions_path = "/" + versions_path.strip("/")
        self.keep_token_a = keep_token_a
        self.ci_uppercase = ci_uppercase
        self.business_name = business_name
        self.startup_timeout = startup_timeout
        self._log_dir = Path(log_dir) if log_dir else None
        self._tmpdir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log_fh: IO[bytes] | None = None
        self.port: int | None = None
        self.base_url = ""
        self.versions_url = ""
        self.details_url = ""
        self.log_path: Path | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> ExtrawestPartner:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> ExtrawestPartner:
        if self._proc is not None:
            raise ExtrawestError("already started")
        python = ensure_extrawest_venv()
        base = self._log_dir
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        self._tmpdir = Path(tempfile.mkdtemp(prefix=f"extrawest-{self.role.lower()}-", dir=base))
        self.log_path = self._tmpdir / "partner.log"
        last_error: Exception | None = None
        for _attempt in range(3):  # a free port can be taken by someone else meanwhile
            try:
                self._spawn(python, _free_port())
                return self
            except _PortInUse as exc:
                last_error = exc
        raise ExtrawestError(f"could not bind a port: {last_error}")

    def _spawn(self, python: Path, port: int) -> None:
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.versions_url = f"{self.base_url}{self.versions_path}"
        prefix = (
            self.versions_path[: -len("/versions")]
            if self.versions_path.endswith("/versions")
            else ""
        )
        self.details_url = f"{self.base_url}{prefix}/2.2.1/details"
        cmd = [
            str(python),
            "-u",
            str(PARTNER_APP),
            "--role",
            self.role,
            "--port",
            str(port),
            "--country-code",
            self.country_code,
            "--party-id",
            self.party_id,
            "--token-a",
            self.token_a,
            "--versions-path",
            self.versions_path,
        ]
        if self.keep_token_a:
            cmd.append("--keep-token-a")
        if self.ci_uppercase:
            cmd.append("--ci-uppercase")
        if self.business_name:
            cmd += ["--business-name", self.business_name]
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env["PYTHONUNBUFFERED"] = "1"
        assert self.log_path is not None and self._tmpdir is not None
        self._log_fh = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self._log_fh.write(f"$ {' '.join(cmd)}\n".encode())
        self._log_fh.flush()
        self._proc = subprocess.Popen(
            cmd,
            cwd=str(self._tmpdir),  # py_ocpi's settings read ./.env: keep it empty
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self._proc.poll()
            if code is not None:
                log = self.log_tail()
                self._cleanup_proc()
                if "address already in use" in log.lower():
                    raise _PortInUse(log[-500:])
                raise ExtrawestError(
                    f"extrawest {self.role} partner exited with {code} during startup; "
                    f"log {self.log_path}:\n{log}"
                )
            try:
                status, _ = _http_json("GET", f"{self.base_url}/_debug/state", timeout=2.0)
                if status == 200:
                    return
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                log = self.log_tail()
                self.stop()
                raise ExtrawestError(
                    f"extrawest {self.role} partner did not answer within "
                    f"{self.startup_timeout}s; log {self.log_path}:\n{log}"
                )
            time.sleep(0.1)

    def _cleanup_proc(self) -> None:
        self._proc = None
        if self._log_fh is not None:
            self._log_fh.close()
            self._log_fh = None

    def stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                try:
                    proc.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
        self._cleanup_proc()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, chars: int = 6000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[-chars:].decode("utf-8", "replace")

    # -- debug API -----------------------------------------------------------
    def _debug(
        self, method: str, path: str, payload: Any = None, timeout: float = HTTP_TIMEOUT
    ) -> Any:
        if not self.running:
            raise ExtrawestError(f"partner not running; log tail:\n{self.log_tail()}")
        status, body = _http_json(method, f"{self.base_url}{path}", payload, timeout=timeout)
        if status == 500:  # 502 bodies ({"error"...}) are returned to the caller
            raise ExtrawestError(f"{method} {path} -> {status}: {body}")
        return body

    def state(self) -> dict:
        """Everything the partner stored (GET /_debug/state).

        Keys: token_a, token_a_valid, issued_tokens (tokens the hub may use on
        it), outbound_token (token it uses on the hub), registration /
        registrations (token_b, url, roles, version_details, token_c, ...),
        credentials_received, objects ({module: {"cc/pid/id": obj}}, keys
        lower-cased), own_objects, deleted, commands, command_results,
        authorizations, charging_profiles, charging_preferences, requests
        (inbound: method, path, query, headers, body, status, response),
        outbound (what it sent: method, url, headers, body, status, response),
        config.
        """
        return self._debug("GET", "/_debug/state")

    def call(
        self,
        method: str,
        url: str,
        json: Any = None,
        *,
        token: str | None = None,
        raw_token: bool = False,
        no_auth: bool = False,
        headers: dict | None = None,
        timeout: float = 10.0,
    ) -> dict:
        """Make the partner call ``url`` (POST /_debug/call).

        Uses the token it holds for the hub unless ``token`` is given, sent the
        library's way (``Authorization: Token base64(token)``; ``raw_token``
        sends it unencoded). Returns {"status_code", "headers", "json",
        "text", "request_headers"} (or {"error"} if the connection failed).
        """
        payload: dict[str, Any] = {
            "method": method,
            "url": url,
            "raw_token": raw_token,
            "no_auth": no_auth,
            "timeout": timeout,
        }
        if json is not None:
            payload["json"] = json
        if token is not None:
            payload["token"] = token
        if headers:
            payload["headers"] = headers
        return self._debug("POST", "/_debug/call", payload, timeout=timeout + 5)

    def seed(self, module: str, *objects: dict) -> dict:
        """Store own objects (CPO: locations/tariffs/sessions/cdrs; eMSP: tokens)."""
        return self._debug("POST", "/_debug/seed", {"module": module, "objects": list(objects)})

    def push(self, module_id: str, object_id: str, receivers: list[dict] | None = None) -> dict:
        """Push an own object to the hub with the library's push code."""
        payload: dict[str, Any] = {"module_id": module_id, "object_id": object_id}
        if receivers:
            payload["receivers"] = receivers
        return self._debug("POST", "/_debug/push", payload)

    def register_with(self, versions_url: str, token_a: str, *, raw_token: bool = False) -> dict:
        """Partner-initiated registration towards the hub (harness code)."""
        return self._debug(
            "POST",
            "/_debug/register",
            {"versions_url": versions_url, "token_a": token_a, "raw_token": raw_token},
        )

    def configure(self, **settings: Any) -> dict:
        """Change canned answers, e.g. command_response={"result": "REJECTED", "timeout": 0}."""
        return self._debug("POST", "/_debug/config", settings)

    def reset(self) -> dict:
        """Forget registration, objects, logs and config (POST /_debug/reset): a module can
        share one process between tests."""
        return self._debug("POST", "/_debug/reset")

    def __repr__(self) -> str:
        where = self.base_url or "(stopped)"
        return f"<ExtrawestPartner {self.role} {self.country_code}/{self.party_id} {where}>"


class _PortInUse(ExtrawestError):
    pass
