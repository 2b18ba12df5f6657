"""The audit log: an append-only record of staff actions and security events.

Other packages call :func:`core.audit.service.record_audit` in the transaction that makes the change,
so the event and the change commit together or not at all.
"""
