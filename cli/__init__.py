"""The ``brokerdesk`` command: the composition root above the apps and workers.

It is the only package that may import portal, backoffice and workers together (to run the demo).
"""
