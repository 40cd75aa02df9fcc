"""Every fact a snapshot can hold, by name: what the collectors write, the run's inputs add and the checks read.

A check may need only these: registry.load_packs refuses a pack whose check needs another name (it could
only ever SKIP). The list is the vocabulary, kept here so that the check API need not import the
collectors to know it; tests/collect/test_declarations.py keeps it equal to what the collectors, the
session and the run's inputs declare. A new fact is added here and in what produces it.
"""

from __future__ import annotations

# Per node (NodeSnapshot.facts), from the node collectors (collect/), and the session's own NO_PASSWORD.
NODE_FACTS = frozenset({
    "info", "config", "role", "acl.list", "acl.users", "acl.log", "acl.whoami", "acl.dryrun", "auth.not_required",
    "clients", "clients.principals", "cluster.info", "cluster.keyslots", "cluster.myid", "cluster.nodes",
    "cluster.shards", "command.info", "host.swap", "latency.latest", "slowlog", "replication.rate",
    "probe.plaintext", "probe.sentinel_unauthenticated", "probe.tls_protocols", "probe.unauthenticated",
    "sentinel.ckquorum", "sentinel.master", "sentinel.master_addr", "sentinel.reachability", "sentinel.replicas",
    "sentinel.sentinels", "tls.handshake",
})

# Run-wide (Snapshot.deployment_facts): the AWS control plane, the probes from the audit host, the census.
DEPLOYMENT_COLLECTED_FACTS = frozenset({
    "aws.alarms", "aws.cache_clusters", "aws.kms_key", "aws.kms_key_rotation", "aws.memorydb_acl",
    "aws.memorydb_cluster", "aws.network", "aws.parameters", "aws.replication_group", "aws.resource", "aws.secrets",
    "aws.security_groups", "aws.serverless_cache", "aws.user_groups", "aws.users", "keyspace.census",
    "latency.local",
})

# Run-wide, from the run's inputs rather than a collector (run_inputs.py).
FAILOVER_FACT = "failover.result"  # a confirmed failover probe's result
POD_LATENCY_FACT = "latency.pods"  # the app pods' latency result documents (facts/latency.py)
RUN_INPUT_FACTS = frozenset({FAILOVER_FACT, POD_LATENCY_FACT})

FACT_NAMES = NODE_FACTS | DEPLOYMENT_COLLECTED_FACTS | RUN_INPUT_FACTS
