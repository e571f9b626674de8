"""The hub's OCPI identity, reach and limits (`OCPI_*`)."""

from settings.env import env

# The hub is a party of its own, role HUB (2.2.1 credentials: a hub lists only that role).
OCPI_COUNTRY_CODE: str = env("OCPI_COUNTRY_CODE", default="NL").upper()
OCPI_PARTY_ID: str = env("OCPI_PARTY_ID", default="HUB").upper()
OCPI_HUB_NAME: str = env("OCPI_HUB_NAME", default="OCPI Hub")
OCPI_HUB_WEBSITE: str | None = env("OCPI_HUB_WEBSITE", default=None)

# Public base URL used in every URL the hub hands out (versions, endpoints, proxied links).
OCPI_BASE_URL: str = env(
    "OCPI_BASE_URL", default=f"http://127.0.0.1:{env.int('PORT', default=8000)}"
).rstrip("/")

# Partner URLs are attacker-controlled: refuse private/loopback/link-local targets unless this
# is on (development and tests, where partners run on 127.0.0.1).
OCPI_ALLOW_PRIVATE_URLS: bool = env.bool("OCPI_ALLOW_PRIVATE_URLS", default=False)

# Pagination: the page size a caller gets without `limit`, and the cap announced in X-Limit.
OCPI_DEFAULT_LIMIT: int = env.int("OCPI_DEFAULT_LIMIT", default=100)
OCPI_MAX_LIMIT: int = env.int("OCPI_MAX_LIMIT", default=1000)

# JSON bodies, the hub's own inbound ones and partners' answers, nested deeper than this are
# refused (HTTP 400 inbound, "no envelope" outbound): OCPI objects nest about 6 levels deep
# (CDR > charging_periods > dimensions), and unbounded nesting exhausts the parser's stack.
OCPI_MAX_JSON_DEPTH: int = env.int("OCPI_MAX_JSON_DEPTH", default=64)

# Outbound HTTP: every call has a connect timeout and an inactivity timeout (the longest wait
# for any one network operation: a read, a write, a pooled connection).
OCPI_HTTP_TIMEOUT_S: float = env.float("OCPI_HTTP_TIMEOUT_S", default=10.0)
OCPI_HTTP_CONNECT_TIMEOUT_S: float = env.float("OCPI_HTTP_CONNECT_TIMEOUT_S", default=3.0)
# Partners are untrusted (issue 10): a receiver sending one byte every few seconds never trips
# an inactivity timeout, and a gzip bomb is small on the wire. So every outbound call also has
# a wall-clock deadline (connect, send, headers and body together), and its answer is read
# only up to a cap on DECOMPRESSED bytes (a Platform may override the cap in admin). Both end
# the call with a transport failure: a forward answers 4002/4000, a delivery is retried.
# Keep two deadlines below CELERY_TASK_SOFT_TIME_LIMIT: a push may PATCH, then PUT.
OCPI_CALL_DEADLINE_S: float = env.float("OCPI_CALL_DEADLINE_S", default=12.0)
OCPI_MAX_RESPONSE_BYTES: int = env.int("OCPI_MAX_RESPONSE_BYTES", default=16 * 1024 * 1024)

# Unauthenticated /ocpi/ requests (no, unknown or revoked token): at most OCPI_UNAUTH_LIMIT
# per client address per OCPI_UNAUTH_WINDOW_S, then HTTP 429 + Retry-After until the window
# ends (0 turns the limit off); only the first OCPI_UNAUTH_LOG_SAMPLE per window reach the
# exchange log. A caller with a valid token is never refused by this limit. Behind reverse
# proxies that append to X-Forwarded-For, OCPI_TRUSTED_PROXY_COUNT says how many there are
# (0: the client address is REMOTE_ADDR).
OCPI_UNAUTH_LIMIT: int = env.int("OCPI_UNAUTH_LIMIT", default=60)
OCPI_UNAUTH_WINDOW_S: int = env.int("OCPI_UNAUTH_WINDOW_S", default=60)
OCPI_UNAUTH_LOG_SAMPLE: int = env.int("OCPI_UNAUTH_LOG_SAMPLE", default=10)
OCPI_TRUSTED_PROXY_COUNT: int = env.int("OCPI_TRUSTED_PROXY_COUNT", default=0)

# Modules a partner must offer for the hub to accept its registration (else OCPI 3003).
OCPI_REQUIRED_ENDPOINTS: list[str] = env.list("OCPI_REQUIRED_ENDPOINTS", default=["credentials"])

# Fields not in the 2.2.1 object tables are refused (2001) unless partners agreed otherwise.
OCPI_ALLOW_UNKNOWN_FIELDS: bool = env.bool("OCPI_ALLOW_UNKNOWN_FIELDS", default=False)

# Record every inbound and outbound OCPI exchange (never a token) for the admin's exchange log.
OCPI_LOG_EXCHANGES: bool = env.bool("OCPI_LOG_EXCHANGES", default=True)

# The outbox (DESIGN §5): state pushes are retried with backoff and jitter for transient
# failures only, for at most OCPI_PUSH_RETRY_WINDOW_S; then the receiver is marked OFFLINE and
# re-syncs by GET. A claimed delivery is leased for OCPI_PUSH_LEASE_S (a dead worker's claim
# expires and the sweeper hands it out again).
OCPI_PUSH_RETRY_BASE_S: float = env.float("OCPI_PUSH_RETRY_BASE_S", default=2.0)
OCPI_PUSH_RETRY_MAX_S: float = env.float("OCPI_PUSH_RETRY_MAX_S", default=300.0)
OCPI_PUSH_RETRY_WINDOW_S: float = env.float("OCPI_PUSH_RETRY_WINDOW_S", default=3600.0)
OCPI_PUSH_LEASE_S: float = env.float("OCPI_PUSH_LEASE_S", default=90.0)
OCPI_PUSH_REQUEUE_AFTER_S: float = env.float("OCPI_PUSH_REQUEUE_AFTER_S", default=30.0)
# Poison and starvation guards (docs/security.md, "The outbox"). A delivery tried this many
# times is given up at its next claim (money: DEAD, a dead letter for staff to resend; state:
# FAILED), whatever its window says: an attempt that raises, or a worker killed mid-send, can
# never loop for ever.
OCPI_PUSH_MAX_ATTEMPTS: int = env.int("OCPI_PUSH_MAX_ATTEMPTS", default=100)
# At most this many deliveries in flight per receiver: one hanging receiver holds at most
# this many worker slots, the others are served meanwhile.
OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER: int = env.int(
    "OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER", default=4
)
# Circuit breaker per receiver: OPEN after this many consecutive transport failures
# (unreachable, timeout, HTTP 5xx or 429); its deliveries wait (not fail, not counted) and one
# probe delivery is tried after the cool-down: success closes the circuit, failure reopens it.
OCPI_PUSH_CIRCUIT_FAILURES: int = env.int("OCPI_PUSH_CIRCUIT_FAILURES", default=5)
OCPI_PUSH_CIRCUIT_COOLDOWN_S: float = env.float("OCPI_PUSH_CIRCUIT_COOLDOWN_S", default=30.0)
# Sessions are billing-relevant messages, not state to drop: their deliveries to the token's eMSP
# keep retrying (also while it is OFFLINE) for this long, then are DEAD for staff to resend.
OCPI_SESSION_RETRY_WINDOW_S: float = env.float("OCPI_SESSION_RETRY_WINDOW_S", default=86400.0)
# CDRs are money (DESIGN §5): their deliveries to the token's eMSP keep retrying for days (3 by
# default), then are DEAD (dead letter) for staff to resend; never dropped silently.
OCPI_CDR_RETRY_WINDOW_S: float = env.float("OCPI_CDR_RETRY_WINDOW_S", default=259200.0)

# HubClientInfo (2.2.1 mod_hub_client_info): a platform that becomes CONNECTED also gets the
# ClientInfo of every other party pushed (the directory), this many seconds after the change
# so that a partner that just registered has stored the hub's token before the first PUT.
OCPI_CLIENTINFO_DIRECTORY_ON_CONNECT: bool = env.bool(
    "OCPI_CLIENTINFO_DIRECTORY_ON_CONNECT", default=True
)
OCPI_CLIENTINFO_DIRECTORY_DELAY_S: float = env.float(
    "OCPI_CLIENTINFO_DIRECTORY_DELAY_S", default=2.0
)

# Still-alive check (DESIGN §5; spec: "when unsure, start with 5 minutes"): a registered
# platform silent this long (no request from it, no probe of it) gets a GET on its versions
# URL, with this timeout; the answer decides CONNECTED or OFFLINE.
OCPI_STILL_ALIVE_AFTER_S: float = env.float("OCPI_STILL_ALIVE_AFTER_S", default=300.0)
OCPI_STILL_ALIVE_TIMEOUT_S: float = env.float("OCPI_STILL_ALIVE_TIMEOUT_S", default=5.0)
OCPI_STILL_ALIVE_CHECK_INTERVAL_S: float = env.float(
    "OCPI_STILL_ALIVE_CHECK_INTERVAL_S", default=60.0
)

# Pull sync of CPOs' locations and tariffs (GET the SENDER list with date_from). Every
# CONNECTED CPO with a SENDER endpoint is pulled incrementally each OCPI_PULL_SYNC_INTERVAL_S;
# a party that pushed that module since its last pull is pulled only every
# OCPI_PULL_SYNC_PUSHER_INTERVAL_S (its pushes keep the hub current; the pull is a safety net).
# date_from is the previous successful run's start minus OCPI_PULL_SYNC_OVERLAP_S (clock skew).
OCPI_PULL_SYNC_INTERVAL_S: float = env.float("OCPI_PULL_SYNC_INTERVAL_S", default=3600.0)
OCPI_PULL_SYNC_PUSHER_INTERVAL_S: float = env.float(
    "OCPI_PULL_SYNC_PUSHER_INTERVAL_S", default=86400.0
)
OCPI_PULL_SYNC_OVERLAP_S: float = env.float("OCPI_PULL_SYNC_OVERLAP_S", default=60.0)
OCPI_PULL_SYNC_PAGE_SIZE: int = env.int("OCPI_PULL_SYNC_PAGE_SIZE", default=100)
OCPI_PULL_SYNC_MAX_PAGES: int = env.int("OCPI_PULL_SYNC_MAX_PAGES", default=10000)
# One run of one (party, module) may take this long (a Celery time limit; also the lease after
# which a run that died is considered gone).
OCPI_PULL_SYNC_TIME_LIMIT_S: int = env.int("OCPI_PULL_SYNC_TIME_LIMIT_S", default=1800)

# Direct routing (DESIGN §3): a request forwarded to its TO party waits this long for the
# answer, then the caller gets OCPI 4002. URLs of forwarded responses the hub rewrites to its
# own (pagination Link, Location) can be followed for OCPI_PROXIED_URL_TTL_S.
OCPI_FORWARD_TIMEOUT_S: float = env.float("OCPI_FORWARD_TIMEOUT_S", default=10.0)
# Forwards are served by web threads: at most this many may wait on one receiver platform at
# once (across every web process on PostgreSQL), so a slow partner holds a few threads, not all.
# A forward beyond it is refused at once with OCPI 4003. 0 turns the cap off.
OCPI_FORWARD_MAX_CONCURRENT: int = env.int("OCPI_FORWARD_MAX_CONCURRENT", default=4)
OCPI_PROXIED_URL_TTL_S: float = env.float("OCPI_PROXIED_URL_TTL_S", default=86400.0)

# Real-time authorization (2.2.1 mod_tokens: "keep delays ... to an absolute minimum"): a CPO's
# authorize routed to the eMSP waits this long, then gets OCPI 4002 (and applies the token's
# whitelist rule, e.g. ALLOWED_OFFLINE) instead of keeping a driver waiting at the charger.
OCPI_AUTHORIZE_TIMEOUT_S: float = env.float("OCPI_AUTHORIZE_TIMEOUT_S", default=3.0)

# Commands and charging profiles (2.2.1 mod_commands, mod_charging_profiles; DESIGN §3
# "response_url"): the hub waits for a CPO's asynchronous result for the `timeout` of its
# synchronous answer plus OCPI_COMMAND_TIMEOUT_MARGIN_S (the CPO's clock and its queue to the
# charge point), then sends the eMSP a CommandResult TIMEOUT. OCPI_COMMAND_DEFAULT_TIMEOUT_S
# stands in when the CPO's answer was lost (4002) or gave no usable timeout. Results are relayed
# to the eMSP through the outbox, retried for OCPI_ASYNC_RESULT_RETRY_WINDOW_S.
OCPI_COMMAND_TIMEOUT_MARGIN_S: float = env.float("OCPI_COMMAND_TIMEOUT_MARGIN_S", default=30.0)
OCPI_COMMAND_DEFAULT_TIMEOUT_S: float = env.float("OCPI_COMMAND_DEFAULT_TIMEOUT_S", default=60.0)
OCPI_ASYNC_RESULT_RETRY_WINDOW_S: float = env.float(
    "OCPI_ASYNC_RESULT_RETRY_WINDOW_S", default=600.0
)
# Some CPO libraries serve the commands RECEIVER but do not list it in their version details
# (extrawest-ocpi). When on, such a CPO's commands URL is inferred from its locations SENDER URL
# (`.../locations` → `.../commands`); when off, the eMSP gets 4001 naming the missing interface.
OCPI_INFER_COMMANDS_ENDPOINT: bool = env.bool("OCPI_INFER_COMMANDS_ENDPOINT", default=False)

# CDR reconciliation (DESIGN §6): a CDR whose computed cost (tariff engine) differs from the
# reported total_cost by more than the tolerance (in the CDR's currency, excl and incl VAT) is
# MISPRICED. OCPI_PRICE_TOLERANCE_BY_PARTY overrides it per CPO party: a JSON object mapping
# "CC-PID" to a tolerance, e.g. {"NL-ABC": "0.05"}. Session totals use the same tolerance and
# OCPI_RECONCILE_KWH_TOLERANCE for energy. A CDR not DELIVERED to its eMSP
# OCPI_RECONCILE_DELIVERY_GRACE_S after the hub received it is UNDELIVERED. The CPO's CDR list is
# pulled with date_to = period end + OCPI_RECONCILE_PULL_SLACK_S (a CDR is issued after its
# session ended, so one ending before midnight may be last_updated after it).
OCPI_PRICE_TOLERANCE: str = env.str("OCPI_PRICE_TOLERANCE", default="0.01")
OCPI_PRICE_TOLERANCE_BY_PARTY: dict[str, str] = env.json(
    "OCPI_PRICE_TOLERANCE_BY_PARTY", default={}
)
OCPI_RECONCILE_KWH_TOLERANCE: str = env.str("OCPI_RECONCILE_KWH_TOLERANCE", default="0.01")
OCPI_RECONCILE_DELIVERY_GRACE_S: float = env.float(
    "OCPI_RECONCILE_DELIVERY_GRACE_S", default=3600.0
)
OCPI_RECONCILE_PULL_SLACK_S: float = env.float("OCPI_RECONCILE_PULL_SLACK_S", default=86400.0)

# Retention (hub.services.retention), run by beat every OCPI_RETENTION_INTERVAL_S: final push
# deliveries (DELIVERED/FAILED/CANCELLED, never PENDING/IN_FLIGHT/DEAD) unchanged for
# OCPI_RETENTION_PUSH_DELIVERY_DAYS, with their attempts once the newest attempt is older than
# OCPI_RETENTION_PUSH_ATTEMPT_DAYS (an attempt never goes before its delivery); finished
# commands/charging-profile requests after OCPI_RETENTION_ASYNC_REQUEST_DAYS; proxied URLs
# OCPI_RETENTION_PROXIED_URL_DAYS after they expired. Each prune deletes
# OCPI_RETENTION_BATCH_SIZE rows per transaction for at most OCPI_RETENTION_TIME_BUDGET_S (keep
# it under CELERY_TASK_SOFT_TIME_LIMIT); the next run resumes.
OCPI_RETENTION_PUSH_DELIVERY_DAYS: float = env.float(
    "OCPI_RETENTION_PUSH_DELIVERY_DAYS", default=30
)
OCPI_RETENTION_PUSH_ATTEMPT_DAYS: float = env.float("OCPI_RETENTION_PUSH_ATTEMPT_DAYS", default=30)
OCPI_RETENTION_ASYNC_REQUEST_DAYS: float = env.float(
    "OCPI_RETENTION_ASYNC_REQUEST_DAYS", default=30
)
OCPI_RETENTION_PROXIED_URL_DAYS: float = env.float("OCPI_RETENTION_PROXIED_URL_DAYS", default=1)
# The analytics records (hub.models.analytics): EVSE status changes older than
# OCPI_RETENTION_EVSE_STATUS_DAYS (the newest change of each EVSE at or before the cutoff is
# kept, so the status at the cutoff stays known) and routed authorizations older than
# OCPI_RETENTION_AUTHORIZATION_DAYS. Above the longest analytics period (366 days).
OCPI_RETENTION_EVSE_STATUS_DAYS: float = env.float("OCPI_RETENTION_EVSE_STATUS_DAYS", default=400)
OCPI_RETENTION_AUTHORIZATION_DAYS: float = env.float(
    "OCPI_RETENTION_AUTHORIZATION_DAYS", default=400
)
OCPI_RETENTION_BATCH_SIZE: int = env.int("OCPI_RETENTION_BATCH_SIZE", default=1000)
OCPI_RETENTION_TIME_BUDGET_S: float = env.float("OCPI_RETENTION_TIME_BUDGET_S", default=20.0)
OCPI_RETENTION_INTERVAL_S: float = env.float("OCPI_RETENTION_INTERVAL_S", default=900.0)

# Analytics (hub.services.analytics, docs/analytics.md): the longest period one request may ask
# for (it bounds the work of one page or API call), and the period shown when none is given.
OCPI_ANALYTICS_MAX_DAYS: int = env.int("OCPI_ANALYTICS_MAX_DAYS", default=366)
OCPI_ANALYTICS_DEFAULT_DAYS: int = env.int("OCPI_ANALYTICS_DEFAULT_DAYS", default=30)

# Roaming mode (DESIGN §6b): `open` lets every connected CPO and eMSP exchange everything;
# `agreements` lets through only what an active roaming agreement's scopes allow
# (hub.models.agreements, `python manage.py roaming_agreement`).
OCPI_ROAMING_MODE: str = env("OCPI_ROAMING_MODE", default="open").lower()
if OCPI_ROAMING_MODE not in ("open", "agreements"):
    raise ValueError(f"OCPI_ROAMING_MODE must be 'open' or 'agreements', not {OCPI_ROAMING_MODE!r}")

# How long a process may keep its copy of a token's platform and roles, or of a module's
# receivers (hub.ocpi.directory_cache): a safety net only, since every directory change drops
# every copy at once through a generation in the shared cache. 0 turns the copies off; they
# are off by default without Redis (REDIS_URL), where processes share no cache.
OCPI_DIRECTORY_CACHE_S: float = env.float(
    "OCPI_DIRECTORY_CACHE_S", default=30.0 if env("REDIS_URL", default=None) else 0.0
)
