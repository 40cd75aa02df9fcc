"""LAT-002..005 over hand-built facts."""



from tests.judging import run_check, snapshot, statuses

NODE = "10.0.0.1:6379"


def _status(check_id: str, facts: dict, profile: dict | None = None) -> str:
    found = statuses(run_check(check_id, snapshot(nodes={NODE: facts}), profile))
    return found[NODE]


def _info(**sections: dict) -> dict:
    return {"server": {"redis_version": "7.2.4"}, **sections}


def test_lat002_server_percentiles():
    fast = _info(latencystats={"latency_percentiles_usec_evalsha": "p50=20.001,p99=80.1,p99.9=120.3"})
    slow = _info(latencystats={"latency_percentiles_usec_evalsha": "p50=20.001,p99=1500.1,p99.9=3000"})
    assert _status("LAT-002", {"info": fast, "config": {}}) == "PASS"
    assert _status("LAT-002", {"info": slow, "config": {}}) == "FAIL"
    assert _status("LAT-002", {"info": {"server": {"redis_version": "6.2.14"}}, "config": {}}) == "SKIP"


def test_lat003_latency_monitor():
    spike = [{"event": "command", "time": 1, "latestMs": 50, "maxMs": 250}]
    assert _status("LAT-003", {"config": {"latency-monitor-threshold": "10"}, "latency.latest": []}) == "PASS"
    assert _status("LAT-003", {"config": {"latency-monitor-threshold": "0"}, "latency.latest": []}) == "WARN"
    assert _status("LAT-003", {"config": {"latency-monitor-threshold": "10"}, "latency.latest": spike}) == "FAIL"


def test_lat004_slowlog_ignores_the_auditor_and_flags_keys():
    own = [{"id": 1, "time": 1, "durationUs": 50_000, "command": "info", "clientName": "redis-audit"}]
    keys = [{"id": 2, "time": 1, "durationUs": 900, "command": "keys", "clientName": "app"}]
    config = {"slowlog-log-slower-than": "10000"}
    assert _status("LAT-004", {"config": config, "slowlog": own}) == "PASS"
    assert _status("LAT-004", {"config": config, "slowlog": keys}) == "WARN"


def test_lat005_keys_calls_fail():
    clients = {"total": 1, "otherNames": 0, "byName": {"batch": {"count": 1, "cmds": {"keys": 1}}}}
    facts = {"info": _info(commandstats={"cmdstat_keys": "calls=3,usec=90,usec_per_call=30.00"}), "clients": clients}
    assert _status("LAT-005", facts) == "FAIL"
    assert run_check("LAT-005", snapshot(nodes={NODE: facts}))[0].evidence["observed"]["lastCommandBy"] == ["batch"]
    assert _status("LAT-005", {"info": _info(commandstats={}), "clients": clients}) == "PASS"
