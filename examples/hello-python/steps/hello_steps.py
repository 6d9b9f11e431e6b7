"""Steps of the hello example in Python: the same scenario as examples/hello (Rust).

Two `hello-worker` servers (`worker1`, `worker2`) greet and audit each other, once per round:

| step | worker | does |
|---|---|---|
| check-health | worker1 | `GET /health` of every worker; each answers 200 with its own name |
| submit-greeting | worker1 | `POST /greetings` (201); stores `greeting_id`, `greeting_from` (round), appends to `greeting_ids` (global) |
| audit-greeting | worker2 | `GET /greetings/{id}` from the submitter; checks round and sender; stores `audited` |
| bonus-round | worker2 | skipped in odd rounds; in even rounds `GET /health` |
| summary | worker1 | `greeting_ids` holds at least one id per round so far |

Failure injection, as in the Rust example: config.yaml's `fail_step` names a step whose
`execute` fails with `injected failure in <step> (config fail_step)` (in every round, or
only in round `fail_round`). `raise_in` names a step whose `execute` raises a Python
exception instead, to show how a traceback reaches the user.

Build: `scripts/build-polyglot.sh` (componentize-py -d wit -w steps componentize hello_steps ...).
"""

from prometheus_step import TestStep, export_steps, fail, get, post, skip


def fail_if_injected(runner, worker, step):
    """Fails `step` when config.yaml asks for it (`fail_step`, `fail_round`, `raise_in`)."""
    if runner.config("fail_step") == step:
        round_ = runner.config("fail_round")
        if round_ is None or round_ == runner.current_round:
            fail(f"injected failure in {step} (config fail_step)")
    if runner.config("raise_in") == step:
        greetings = {}
        # A KeyError from deep inside the step: the user sees it with its traceback.
        return greetings["injected-" + step]


def post_load(runner):
    runner.info("hello: post-load ran")
    runner.set("post_load_ran", True, scope="global")


# check-health ---------------------------------------------------------------------------


def check_health_prepare(runner, worker):
    return [{"name": w.name, "url": w.url} for w in runner.workers]


def check_health_execute(runner, worker, targets):
    fail_if_injected(runner, worker, "check-health")
    healthy = []
    for target in targets:
        url = target["url"].rstrip("/") + "/health"
        health = get(url).expect_status(200).json()
        if health.get("worker") != target["name"]:
            fail(f"{target['name']}: /health answered as worker `{health.get('worker')}`")
        healthy.append(target["name"])
    return {"healthy": healthy}


# submit-greeting ------------------------------------------------------------------------


def submit_greeting_prepare(runner, worker, text):
    round_ = runner.current_round
    return {"round": round_, "from": worker.name, "text": f"{text} from {worker.name} in round {round_}"}


def submit_greeting_execute(runner, worker, greeting, text):
    fail_if_injected(runner, worker, "submit-greeting")
    url = worker.endpoint("/greetings")
    created = post(url, json=greeting).expect_status(201).json()
    greeting_id = created.get("id")
    if not isinstance(greeting_id, str):
        fail(f"POST {url}: the answer has no string `id`: {created}")
    runner.set("greeting_id", greeting_id)
    runner.set("greeting_from", greeting["from"])
    ids = runner.get("greeting_ids", [])
    ids.append(greeting_id)
    runner.set("greeting_ids", ids, scope="global")
    runner.info(f"greeting {greeting_id} posted ({len(ids)} so far)")
    return created


# audit-greeting -------------------------------------------------------------------------


def audit_greeting_prepare(runner, worker):
    greeting_id = runner.get("greeting_id")
    if greeting_id is None:
        fail("no greeting_id in state: did submit-greeting run this round?")
    submitter = runner.get("greeting_from")
    if submitter is None:
        fail("no greeting_from in state: did submit-greeting run this round?")
    url = runner.worker(submitter).endpoint(f"/greetings/{greeting_id}")
    return {"id": greeting_id, "submitter": submitter, "url": url}


def audit_greeting_execute(runner, worker, audit):
    fail_if_injected(runner, worker, "audit-greeting")
    round_ = runner.current_round
    greeting = get(audit["url"]).expect_status(200).json()
    if greeting["id"] != audit["id"]:
        fail(f"GET {audit['url']}: got greeting `{greeting['id']}`")
    if greeting["round"] != round_:
        fail(f"greeting {audit['id']} is from round {greeting['round']}, expected round {round_}")
    if greeting["from"] != audit["submitter"]:
        fail(f"greeting {audit['id']} is from `{greeting['from']}`, expected `{audit['submitter']}`")
    runner.set("audited", True)
    return {"audited": audit["id"]}


# bonus-round ----------------------------------------------------------------------------


def bonus_round_execute(runner, worker, _data):
    fail_if_injected(runner, worker, "bonus-round")
    round_ = runner.current_round
    if round_ % 2 == 1:
        return skip(f"bonus runs only in even rounds (round {round_})")
    get(worker.endpoint("/health")).expect_status(200)
    return {"bonus": True}


# summary --------------------------------------------------------------------------------


def summary_execute(runner, worker, _data):
    fail_if_injected(runner, worker, "summary")
    round_ = runner.current_round
    count = len(runner.get("greeting_ids", []))
    if count < round_:
        fail(f"expected at least {round_} greeting ids after round {round_}, found {count}")
    runner.info(f"summary: {count} greetings after round {round_}")
    return {"greetings": count}


steps = [
    TestStep("check-health", "Both workers answer /health", check_health_prepare, check_health_execute, "worker1"),
    TestStep(
        "submit-greeting",
        "worker1 posts this round's greeting",
        submit_greeting_prepare,
        submit_greeting_execute,
        "worker1",
        params={"text": "hello"},
    ),
    TestStep(
        "audit-greeting",
        "worker2 reads the greeting back from worker1",
        audit_greeting_prepare,
        audit_greeting_execute,
        "worker2",
    ),
    TestStep("bonus-round", "Even rounds only: worker2 answers /health", None, bonus_round_execute, "worker2"),
    TestStep("summary", "Every round so far left a greeting", None, summary_execute, "worker1"),
]

WitWorld = export_steps(steps, post_load=post_load)
