"""Per-client figures staff act on: lifetime net deposits, volume, commissions generated, days
since the last trade and login, churn risk and value tier, recomputed by a scheduled job.

It sits below ``crm`` so that the client list and segments can filter on these figures.
"""
