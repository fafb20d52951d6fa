"""Notifications: the outbox, its delivery (subscribe messages, WeCom, unit webhooks), quotas and the in-app
inbox."""
