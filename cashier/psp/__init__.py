"""Payment service providers: the adapter interface, signatures, and the loopback sandbox."""
