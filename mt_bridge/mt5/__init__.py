"""The MT5 Web API adapter: MetaQuotes' manager REST interface over one keep-alive HTTPS connection."""
