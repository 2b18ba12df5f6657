"""Outbound webhooks: staff-registered endpoints receive signed deliveries of domain events,
retried with backoff and kept in a delivery log that staff can replay from.
"""
