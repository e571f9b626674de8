"""extrawest-ocpi as S0's peer: tests/interop/extrawest/partner_app.py's application (the
library's own FastAPI app with the harness's in-memory Crud), served by uvicorn in one process,
without what the interop harness adds for tests — its log of every request with the decoded
body (which would grow by the size of every answer and slow it down) and DEBUG logs.

Run with the interpreter of `.venv-extrawest`, with partner_app.py's own arguments; S0 starts
it through `ExtrawestPartner` (tests/interop/extrawest_partner.py) in place of partner_app.py.
"""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop" / "extrawest"))

import partner_app  # parses sys.argv: --role, --port, ... as partner_app.py does
import uvicorn

app = partner_app.app
# Starlette builds its middleware stack on the first request: the request log is left out.
app.user_middleware = [
    m for m in app.user_middleware if m.cls is not partner_app.RequestLogMiddleware
]
partner_app.ocpi_logger.setLevel(logging.WARNING)

if __name__ == "__main__":
    partner_app.ocpi_logger.warning(
        "extrawest-ocpi peer %s on port %s (no request log)",
        partner_app.ARGS.role,
        partner_app.ARGS.port,
    )
    uvicorn.run(
        app,
        host=partner_app.ARGS.host,
        port=partner_app.ARGS.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
