"""Delivery to receivers through the outbox: enqueue in the writer's transaction, send from
workers, fold, hold, retry, give up and sweep."""
