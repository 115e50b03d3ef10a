"""Webhooks for shippers: subscriptions, the outbox, signed delivery with retries."""
