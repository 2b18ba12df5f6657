"""MT4 through a Manager-API gateway over HTTP (contract: ``docs/mt4-gateway.openapi.yaml``)."""
