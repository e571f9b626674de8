"""The outbox: enqueue deliveries in the writer's transaction, send them from workers.

DESIGN §5 and STYLE §3.4. A 1000 to a sender means the object and its delivery rows are
committed together; Celery carries only delivery ids, and the periodic sweeper re-enqueues
whatever is due, so losing the broker loses nothing. State deliveries (locations, tariffs,
tokens, ClientInfo) fold: one PENDING row per (receiver, object), sent with the object's
state at send time.

Poison and starvation (docs/security.md, "The outbox"): every outcome of an attempt, an
exception or a soft time limit included, ends in `give_up_or_retry` or a final status, with a
PushAttempt row; the window (`expires_at`) and OCPI_PUSH_MAX_ATTEMPTS are enforced at claim
(and by the sweeper); a receiver has at most OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER deliveries in
flight and a circuit breaker (`ReceiverCircuit`); money and state travel on separate queues.

Suspension holds a receiver's deliveries (HELD: never sent, window paused), reactivation
releases them in their original order, unregistration cancels state and turns money into dead
letters (`receiver_hold`, `receiver_release`, `receiver_unregistered`).

The modules, in the order a delivery meets them:
- `types`: `Receiver` and `PushRequest`, the values enqueuers and builders share.
- `rules`: state or money, open statuses, folding operations, ordering groups, backoff.
- `enqueue`: `push_enqueue` and the fold; the push-builder registry; `receiver_endpoint`.
- `circuit`: the receiver's circuit breaker, its slots, and handing deliveries out within them.
- `broker`: the one contact with Celery (which task, handing it an id).
- `sending`: claim, send, record the attempt (`delivery_send`).
- `outcome`: finish, retry after the backoff, give up, fold into a newer delivery.
- `receivers`: hold, release, OFFLINE, unregistration; staff's resend and cancel.
- `sweep`: the safety net (`delivery_sweep`).
"""
