"""The optional ``MetaTrader5`` terminal adapter: read-only sync of one trader login (Windows only)."""
