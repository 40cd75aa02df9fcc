"""Active probes that measure what a client sees (latency), as opposed to collectors that read facts."""
