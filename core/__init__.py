"""Shared kernel of BrokerDesk: settings, database, errors, jobs, i18n and the web pieces both apps use."""
