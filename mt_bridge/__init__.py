"""Trading platforms: the adapter protocol, the MT5 Web API client and the MT5 emulator.

Everything above this package talks to MetaTrader servers only through
:class:`mt_bridge.platform.TradingPlatform` and the normalised records in :mod:`mt_bridge.records`,
so a platform's quirks (numbers as strings, server-local times, symbol suffixes) stop here.
"""
