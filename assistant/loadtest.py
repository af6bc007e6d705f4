"""`assistant load`: drive a running chat through its Gradio API and measure it.

Each of N clients asks, waits for the result, and asks again, for S seconds (a closed
loop: at most N requests in flight, and at most `max_requests` in all). A request ends as

- answered: the endpoint returned a result;
- busy: the server's bounded queue was full (HTTP 503), the graceful refusal under
  overload; the client waits a moment before asking again;
- error: anything else (an error event, another status, a timeout, a dropped connection).

Only a server on a loopback address is driven: this measures your own machine, nobody else's.

>>> run("http://127.0.0.1:7860", clients=20, seconds=60).line()  # doctest: +SKIP
'20 clients x 60 s on http://127.0.0.1:7860/ask: 1212 requests, 1212 answered, 0 busy, ...'
"""
from __future__ import annotations

import ipaddress
import itertools
import json
import math
import socket
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from .errors import AssistantError

DEFAULT_URL = "http://127.0.0.1:7860"
QUESTIONS = (  # answered by the bundled archive
    "Who is the Secretary-General of the CSTO?",
    "Which countries applied to join the SCO?",
    "Where did the Central Asian heads of state meet?",
    "Where did the first Eurasian Economic Forum take place?",
)
MAX_CLIENTS = 100
MAX_SECONDS = 3600
REQUEST_TIMEOUT = 120.0  # seconds; a request still unanswered by then counts as an error
BUSY_PAUSE = 0.25  # seconds a client waits after a "busy" before asking again
JSON_HEADERS = {"content-type": "application/json"}


@dataclass(frozen=True)
class Outcome:
    kind: str  # "answered", "busy" or "error"
    seconds: float
    detail: str = ""


@dataclass(frozen=True)
class LoadReport:
    url: str
    clients: int
    seconds: float
    requests: int
    answered: int
    busy: int
    errors: int
    p50_ms: float | None  # latency of answered requests
    p95_ms: float | None
    max_ms: float | None
    error_samples: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return dict(asdict(self), error_samples=list(self.error_samples))

    def line(self) -> str:
        ms = lambda value: "-" if value is None else f"{value:.0f} ms"  # noqa: E731
        text = (f"{self.clients} clients x {self.seconds:.0f} s on {self.url}: "
                f"{self.requests} requests, {self.answered} answered, {self.busy} busy, "
                f"{self.errors} errors; latency p50 {ms(self.p50_ms)}, p95 {ms(self.p95_ms)}, "
                f"max {ms(self.max_ms)}; {self.answered / max(self.seconds, 1e-9):.1f} answers/s")
        return text + "".join(f"\n  error: {sample}" for sample in self.error_samples)


def loopback_base(url: str) -> str:
    """`url` without a trailing slash; AssistantError unless every address it names is
    this machine's loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AssistantError(f"{url!r} is not a URL like {DEFAULT_URL}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise AssistantError(f"cannot resolve {parts.hostname!r} ({error})") from None
    addresses = sorted({info[4][0] for info in infos})
    if not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise AssistantError(f"{parts.hostname} is not this machine ({', '.join(addresses)}): "
                             f"the load test only drives a server on a loopback address "
                             f"such as {DEFAULT_URL}")
    return url.rstrip("/")


def endpoint_defaults(client, base: str, endpoint: str) -> list:
    """The endpoint's default values for every parameter after the first (the question)."""
    import httpx

    try:
        response = client.get(f"{base}/gradio_api/info")
        response.raise_for_status()
        endpoints = response.json().get("named_endpoints", {})
    except (httpx.HTTPError, ValueError) as error:
        raise AssistantError(f"no chat answers at {base} ({error}): start one with "
                             f"`assistant serve`") from None
    if "/" + endpoint not in endpoints:
        raise AssistantError(f"the app at {base} has no /{endpoint} endpoint (it has "
                             f"{', '.join(endpoints) or 'none'}): pass --endpoint")
    return [p.get("parameter_default") for p in endpoints["/" + endpoint]["parameters"][1:]]


def ask_once(client, base: str, endpoint: str, data: list) -> Outcome:
    """One request through Gradio's REST API: join the queue, then read the result."""
    import httpx

    started = time.monotonic()
    elapsed = lambda: time.monotonic() - started  # noqa: E731
    try:
        response = client.post(f"{base}/gradio_api/call/{endpoint}", headers=JSON_HEADERS,
                               content=json.dumps({"data": data}))
        if response.status_code == 503:
            return Outcome("busy", elapsed(), response.text[:200])
        response.raise_for_status()
        event_id = response.json()["event_id"]
        event = None
        with client.stream("GET", f"{base}/gradio_api/call/{endpoint}/{event_id}") as stream:
            stream.raise_for_status()
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[len("event: "):].strip()
                elif line.startswith("data: ") and event in ("complete", "error"):
                    if event == "complete":
                        return Outcome("answered", elapsed())
                    return Outcome("error", elapsed(), line[len("data: "):][:200])
        return Outcome("error", elapsed(), "the result stream ended without a result")
    except (httpx.HTTPError, ValueError, KeyError) as error:
        return Outcome("error", elapsed(), f"{type(error).__name__}: {error}"[:200])


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list, or None if it is empty."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def report(url: str, clients: int, seconds: float, outcomes: list[Outcome]) -> LoadReport:
    answered = sorted(o.seconds * 1000 for o in outcomes if o.kind == "answered")
    errors = [o.detail for o in outcomes if o.kind == "error"]
    return LoadReport(url, clients, seconds, len(outcomes), len(answered),
                      sum(o.kind == "busy" for o in outcomes), len(errors),
                      percentile(answered, 0.50), percentile(answered, 0.95),
                      answered[-1] if answered else None, tuple(dict.fromkeys(errors))[:5])


def run(url: str = DEFAULT_URL, clients: int = 20, seconds: float = 60, endpoint: str = "ask",
        questions: tuple[str, ...] = QUESTIONS, max_requests: int = 100_000) -> LoadReport:
    """Drive `url`'s `endpoint` with `clients` concurrent clients for `seconds`."""
    import httpx

    if not 1 <= clients <= MAX_CLIENTS or not 0 < seconds <= MAX_SECONDS:
        raise AssistantError(f"ask for 1 to {MAX_CLIENTS} clients and at most {MAX_SECONDS} "
                             f"seconds, not {clients} clients for {seconds} s")
    base = loopback_base(url)
    with httpx.Client(timeout=10) as probe:
        defaults = endpoint_defaults(probe, base, endpoint)
    outcomes: list[Outcome] = []
    lock, tickets = threading.Lock(), iter(range(max_requests))
    started = time.monotonic()
    deadline = started + seconds

    def client_loop(n: int) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT) as client:
            for i in itertools.count(n):
                with lock:
                    if time.monotonic() >= deadline or next(tickets, None) is None:
                        return
                outcome = ask_once(client, base, endpoint, [questions[i % len(questions)],
                                                            *defaults])
                with lock:
                    outcomes.append(outcome)
                if outcome.kind == "busy":
                    time.sleep(BUSY_PAUSE)

    threads = [threading.Thread(target=client_loop, args=(n,), daemon=True)
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return report(f"{base}/{endpoint}", clients, time.monotonic() - started, outcomes)
