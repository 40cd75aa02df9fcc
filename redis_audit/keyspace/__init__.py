"""Keyspace census: keys grouped by pattern, with counts, types, corrected bytes and TTL histograms.

``run_census`` (census.py) scans every shard once, exactly or by sampling; ``scanner.py`` is the
gentle per-node loop, ``pipeline.py`` its bounded window of requests, ``batch.py`` a batch of keys
under measurement, ``bigvalues.py`` the exact re-measure of big values, ``wire.py`` the connection
with replies parsed in C, ``patterns.py`` the key → group map, ``stats.py`` the streaming
aggregation, ``overhead.py`` what MEMORY USAGE leaves out and ``result.py`` the JSON (a deployment
fact, ``keyspace.census``).
"""

from redis_audit.keyspace.census import CensusError, CensusOptions, nodes_to_scan, run_census
from redis_audit.keyspace.scanner import ScanSettings

__all__ = ["CensusError", "CensusOptions", "ScanSettings", "nodes_to_scan", "run_census"]
