"""Client service: support tickets from clients and IBs, the staff queue with its SLA clock, and
mailed replies that thread back into their ticket.

- :mod:`support.tickets`: the client's side (open, follow, reply, close, reopen, attachments);
- :mod:`support.queue`: the staff side (filters, assignment, statuses, replies, internal notes);
- :mod:`support.canned` and :mod:`support.sla`: canned replies, SLA targets and breaches;
- :mod:`support.mailing`, :mod:`support.inbound`, :mod:`support.quoting` and
  :mod:`support.inbound_server`: Reply-To addresses, the reply mail, and threading mailed answers
  received over SMTP.
"""
