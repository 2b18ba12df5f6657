"""Client service: support tickets from clients and IBs, the staff queue with its SLA clock, and
mailed replies that thread back into their ticket.
"""
