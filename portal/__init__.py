"""The client portal: traders' self-service and, for users with an IB profile, the IB portal."""
