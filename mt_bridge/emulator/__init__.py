"""A stand-alone MT5 Web API server for demos and tests, with a seeded trade simulator.

It follows ``shared/mt5-webapi.md``: session state per TCP connection, the MD5 challenge with
its 10 s window, an idle timeout, numbers as strings, official retcodes and the platform's
money rules. Fault injection makes it drop, delay or refuse on purpose.
"""
