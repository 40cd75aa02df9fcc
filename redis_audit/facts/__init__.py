"""The facts' own vocabulary, pure: what server replies mean and what probe results hold.

Parsers of replies (INFO, CLUSTER NODES, flat pairs), reply values as text and integers, version
numbers, the cluster key slot, the latency histogram and the latency result documents. Nothing here
opens a socket, starts a thread, touches a file or imports redis-py or boto3: the collectors and
probes that produce facts, the checks that judge them and the engine all import these modules, and
none of them imports another through here (the import-linter contracts in pyproject.toml say so).
"""
