"""Every capability of the Python helper, one step per row of the parity table in
docs/writing-steps.md; tests/parity.rs runs it against two hello-worker processes, the
embedded store and the Koii golden vectors (config.yaml `golden_vectors`).

tests/polyglot-steps/parity-js/parity-steps.js is the same package in JavaScript: keep the
step names, results and checks of both in step."""

from prometheus_step import (
    HttpError,
    MongoError,
    SigningError,
    StepFailed,
    TestStep,
    collection,
    delete,
    export_steps,
    fail,
    get,
    patch,
    post,
    public_key,
    put,
    request,
    sign,
    skip,
    verify,
    verify_text,
)


def check(condition, what):
    if not condition:
        fail(f"parity check failed: {what}")


def expect_failure(call, error_type, what):
    try:
        call()
    except error_type as e:
        return str(e)
    fail(f"parity check failed: {what} did not raise {error_type.__name__}")


# config, params, state --------------------------------------------------------------------


def config_prepare(runner, worker, label):
    return {"label": label, "task": runner.task_id}


def config_execute(runner, worker, data, label):
    check(data == {"label": label, "task": "parity"}, f"prepare data {data}")
    check(label == "from-manifest", f"param label {label}")
    check(runner.config("nested.answer") == 42, "config dot notation")
    check(runner.config("missing", "dflt") == "dflt", "config default")
    runner.set("round_value", {"n": runner.current_round})
    runner.set("shared.counter", runner.current_round, scope="global")
    check(runner.get("round_value.n") == runner.current_round, "state dot notation")
    expect_failure(lambda: runner.set("x", 1, scope="nope"), ValueError, "a bad scope")
    return {"round": runner.current_round}


def state_execute(runner, worker, data):
    check(runner.get("round_value") == {"n": runner.current_round}, "round state from the previous step")
    check(runner.get("shared.counter") == runner.current_round, "global state")
    check(runner.get("task_id") == "parity", "state falls back to config.yaml")
    check(runner.get("post_load_ran") is True, "post_load ran and stored a global")
    check(runner.get("absent") is None, "absent key")
    return {"state": "ok"}


# workers ------------------------------------------------------------------------------------


def worker_execute(runner, worker, data):
    check(worker.name == "worker1", f"current worker {worker.name}")
    check([w.name for w in runner.workers] == ["worker1", "worker2"], "worker names")
    check(worker.get("role") == "greeter", "a workers.json key")
    check(isinstance(worker.get("port"), int), "port")
    check(worker.url.startswith("http://"), "url")
    check(worker.endpoint("/health") == worker.url.rstrip("/") + "/health", "endpoint")
    check(worker.get_env("WORKER_ID") == "worker1", "worker env")
    check(runner.worker("worker2").get_env("WORKER_ID") == "worker2", "another worker's env")
    check(worker.get_env("NOT_SET") is None, "absent env")
    return {"worker": worker.name}


# http ---------------------------------------------------------------------------------------


def http_execute(runner, worker, data):
    health = get(worker.endpoint("/health")).expect_status(200)
    check(health.ok and health.json()["worker"] == "worker1", "GET json")
    check(health.header("Content-Type").startswith("application/json"), "response header")
    echoed = post(worker.endpoint("/echo"), json={"a": [1, "é"]}).error_for_status()
    check(echoed.json() == {"a": [1, "é"]}, "POST json round trip")
    check("é" in echoed.text, "text decodes UTF-8")
    for method, call in (("PUT", put), ("PATCH", patch)):
        response = call(worker.endpoint("/greetings/none"), json={})
        check(response.status in (404, 405), f"{method} status {response.status}")
        expect_failure(response.error_for_status, StepFailed, f"{method} error_for_status")
    gone = delete(worker.endpoint("/greetings/none"))
    check(not gone.ok, "DELETE status")
    message = expect_failure(lambda: gone.expect_status(200), StepFailed, "expect_status")
    check(str(gone.status) in message, "the status in the failure")
    raw = request("GET", worker.endpoint("/health"), headers={"x-test": "1"}, timeout_ms=5000)
    check(raw.status == 200, "request with headers and timeout")
    denied = expect_failure(lambda: get("http://192.0.2.1/"), HttpError, "a denied host")
    check("allowed_hosts" in denied, f"denied message names the config key: {denied}")
    return {"http": "ok"}


# mongo --------------------------------------------------------------------------------------


def mongo_execute(runner, worker, data):
    items = collection("items")
    check(items.count_documents({"taskId": "parity"}) == 2, "seeded documents carry the taskId")
    first = items.find_one({"name": "a"})
    check(first["value"] == 1, "find_one")
    new_id = items.insert_one({"name": "c", "value": 3})
    check(new_id is not None, "insert_one returns the _id")
    ids = items.insert_many([{"name": "d", "value": 4}, {"name": "e", "value": 5}])
    check(len(ids) == 2, "insert_many")
    names = [d["name"] for d in items.find({}, sort={"value": -1}, limit=2)]
    check(names == ["e", "d"], f"find sort limit: {names}")
    check(items.update_one({"name": "c"}, {"$set": {"value": 30}})[:2] == (1, 1), "update_one")
    check(items.update_many({"value": {"$gte": 4, "$lt": 10}}, {"$set": {"big": True}})[0] == 2, "update_many")
    check(items.replace_one({"name": "d"}, {"name": "d", "value": 40})[0] == 1, "replace_one")
    check(items.delete_one({"name": "e"}) == 1, "delete_one")
    total = items.aggregate([{"$group": {"_id": None, "sum": {"$sum": "$value"}}}])
    check(total[0]["sum"] == 1 + 2 + 30 + 40, f"aggregate {total}")
    check(items.delete_many({"name": {"$in": ["c", "d"]}}) == 2, "delete_many")
    expect_failure(lambda: items.find({"$bogus": 1}), MongoError, "a bad filter")
    return {"mongo": "ok"}


# signing ------------------------------------------------------------------------------------


def signing_execute(runner, worker, data):
    staking = worker.public_key("staking")
    main = public_key("main")
    check(staking and main and staking != main, "public keys per kind")
    payload = {"round": runner.current_round, "taskId": "parity", "x": 1.5}
    signature = worker.sign(payload)
    check(verify(signature, staking) == payload, "verify returns the payload")
    check(verify_text(signature, staking) == '{"round": %d, "taskId": "parity", "x": 1.5}' % runner.current_round,
          "verify_text is the sorted json.dumps text")
    expect_failure(lambda: verify(signature, main), SigningError, "verify with the wrong key")
    other = sign(payload, "main", worker="worker2")
    check(verify(other, public_key("main", worker="worker2")) == payload, "sign as another worker")
    return {"signing": "ok"}


def golden_execute(runner, worker, data):
    """Every golden vector of tests/fixtures/koii-signatures, signed from inside the guest:
    keypair k is worker (k // 2 + 1)'s staking (even k) or main (odd k) key."""
    import json

    vectors = runner.config("golden_vectors")
    check(vectors, "config.yaml has golden_vectors")
    for i, v in enumerate(vectors):
        who = f"worker{v['keypair'] // 2 + 1}"
        kind = "staking" if v["keypair"] % 2 == 0 else "main"
        got = sign(json.loads(v["payload"]), kind, worker=who)
        if got != v["signature"]:
            fail(f"golden vector {i} ({v['payload'][:80]!r}): signature differs from the reference's")
    runner.info(f"golden: {len(vectors)} vectors signed byte-identically")
    return {"checked": len(vectors)}


# outcomes and log ---------------------------------------------------------------------------


def skip_execute(runner, worker, data):
    runner.info("info line")
    runner.warn("warn line")
    runner.log("debug line", "debug")
    print("printed line")
    return skip(f"skipped on purpose in round {runner.current_round}")


def fail_execute(runner, worker, data):
    if runner.config("fail_on_purpose", False):
        fail("failed on purpose")
    return {"failed": False}


def post_load(runner):
    runner.set("post_load_ran", True, scope="global")


steps = [
    TestStep("config-params", "config, params and state writes", config_prepare, config_execute, "worker1",
             params={"label": "from-manifest"}),
    TestStep("state-read", "state reads and scopes", None, state_execute, "worker2"),
    TestStep("worker-info", "worker names, keys, env", None, worker_execute, "worker1"),
    TestStep("http", "HTTP methods and status checks", None, http_execute, "worker1"),
    TestStep("mongo", "the test database", None, mongo_execute, "worker2"),
    TestStep("signing", "public keys, sign, verify", None, signing_execute, "worker1"),
    TestStep("golden", "the Koii golden vectors", None, golden_execute, "worker1"),
    TestStep("skip-and-log", "skip and the step log", None, skip_execute, "worker2"),
    TestStep("fail", "a failure when asked", None, fail_execute, "worker2"),
]

WitWorld = export_steps(steps, post_load=post_load)
