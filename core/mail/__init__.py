"""Outgoing mail: templates rendered into an outbox row, sent by the ``core.send_mail`` actor.

Without an SMTP server (the demo) a sent mail is kept in the outbox as ``captured`` and the back
office's dev mailbox shows it, so verification and reset links can be clicked.
"""
