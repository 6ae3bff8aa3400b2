"""Benchmark of the MLLP listener: how long a hospital's sender waits for each ACK, and messages/s.

Run it as `.venv/bin/python bench/mllp.py [--people N] [--messages M] [--connections C...]`. It recreates the
`tsunagi_mllp_bench` database on DATABASE_URL's server (else the embedded one), generates a region (seed 1)
and takes the first M messages of its first SS-MIX2 source in the connector's order (a patient's ADT before
their orders). For each number of connections C, it starts `manage.py mllp_listen` on a fresh database and
sends the messages over C connections, each waiting for its ACK before sending the next, as an HL7 v2
sender does. Every ACK must be MSA-1 `AA`. Per message the round trip (send to ACK) is what a sender waits;
the table gives its median and p95, and messages/s over the whole run. Results go to
bench/results/mllp-<timestamp>.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fhir_api import (
    RESULTS_DIR,
    VENV_BIN,
    BenchError,
    django_env,
    free_port,
    git_commit,
    machine_facts,
    migrate,
    percentile,
    progress,
    recreate_database,
    server_url,
    server_version,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "tsunagi_mllp_bench"
SOURCE = "hospital-mllp"
ORGANIZATION = "http://jpfhir.jp/fhir/core/IdSystem/insurance-medical-institution-no|2214110011"
START_BLOCK, END_BLOCK = b"\x0b", b"\x1c\x0d"


def region_messages(url: str, people: int, count: int, scratch: Path) -> list[bytes]:
    """The first `count` SS-MIX2 messages of a generated region's hospitals and clinics, source after source, in
    the order the storage-tree crawler takes."""
    region = scratch / "region"
    subprocess.run(
        [
            str(VENV_BIN / "python"),
            "manage.py",
            "generate_region",
            "--people",
            str(people),
            "--seed",
            "1",
            "--out",
            str(region),
            "--force",
        ],
        cwd=REPO_ROOT,
        env=django_env(url),
        check=True,
        capture_output=True,
    )
    sources = json.loads((region / "sources.json").read_text())["sources"]
    trees = [str(region / source["path"]) for source in sources if source["kind"] == "ssmix2"]
    listing = subprocess.run(
        [str(VENV_BIN / "python"), "-c", CRAWL, *trees],
        cwd=REPO_ROOT,
        env=django_env(url),
        check=True,
        capture_output=True,
        text=True,
    )
    return [Path(path).read_bytes() for path in listing.stdout.split("\n")[:count] if path]


# The crawler's order needs Django set up; a child process does it so this script stays a plain client.
CRAWL = """
import sys, django
django.setup()
from connectors.ssmix2.connector import SsMix2Connector
from pathlib import Path
print("\\n".join(str(path) for tree in sys.argv[1:] for path in SsMix2Connector().paths(Path(tree))))
"""


def listener(database_url: str, raw_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = django_env(database_url) | {"RAW_STORE_DIR": str(raw_dir)}
    manage = [str(VENV_BIN / "python"), "manage.py"]
    subprocess.run(
        [
            *manage,
            "add_source",
            "--code",
            SOURCE,
            "--connector",
            "hl7v2",
            "--organization-name",
            "MLLP病院",
            "--organization-identifier",
            ORGANIZATION,
        ],
        cwd=REPO_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    process = subprocess.Popen(
        [*manage, "mllp_listen", "--source", SOURCE, "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise BenchError("mllp_listen did not start listening within 60 s")


def send_all(port: int, messages: list[bytes], latencies: list[float]) -> None:
    """Send each message and wait for its ACK, as one sender on one connection."""
    with socket.create_connection(("127.0.0.1", port)) as connection:
        for message in messages:
            started = time.perf_counter()
            connection.sendall(START_BLOCK + message + END_BLOCK)
            reply = b""
            while not reply.endswith(END_BLOCK):
                chunk = connection.recv(65536)
                if not chunk:
                    raise BenchError("the listener closed the connection")
                reply += chunk
            latencies.append(time.perf_counter() - started)
            if b"MSA|AA|" not in reply:
                raise BenchError(f"not accepted: {reply[-200:]!r}")


def run_connections(url: str, messages: list[bytes], connections: int, scratch: Path) -> dict[str, Any]:
    database_url = recreate_database(url, BENCH_DATABASE)
    migrate(database_url)
    port = free_port()
    process = listener(database_url, scratch / f"raw-{connections}", port)
    # Connection k sends every message whose index is k modulo C: several patients' streams side by side.
    shares: list[list[bytes]] = [messages[k::connections] for k in range(connections)]
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors: list[BaseException] = []

    def sender(k: int) -> None:
        try:
            send_all(port, shares[k], latencies[k])
        except BaseException as error:  # reported after the run
            errors.append(error)

    started = time.perf_counter()
    threads = [threading.Thread(target=sender, args=(k,)) for k in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    process.terminate()
    process.wait(timeout=30)
    if errors:
        raise BenchError(f"a sender failed: {errors[0]}")
    ordered = sorted(value for values in latencies for value in values)
    return {
        "connections": connections,
        "messages": len(ordered),
        "seconds": round(seconds, 2),
        "messages_per_second": round(len(ordered) / seconds, 1),
        "ack_median_ms": round(percentile(ordered, 50) * 1000, 1),
        "ack_p95_ms": round(percentile(ordered, 95) * 1000, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    url, where = server_url()
    results: dict[str, Any] = {
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine_facts(),
        "database": {"server": where, "postgresql": server_version(url)},
        "runs": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="tsunagi-mllp-") as folder:
            scratch = Path(folder)
            progress(f"generating {args.people} people and taking {args.messages} SS-MIX2 messages")
            messages = region_messages(url, args.people, args.messages, scratch)
            for connections in args.connections:
                progress(f"{len(messages)} messages over {connections} connection(s)")
                results["runs"].append(run_connections(url, messages, connections, scratch))
    except (BenchError, subprocess.CalledProcessError) as error:
        print(f"benchmark stopped: {error}", file=sys.stderr)
        return 1
    print("| connections | messages | messages/s | ACK median | ACK p95 |")
    print("|---|---|---|---|---|")
    for run in results["runs"]:
        print(
            f"| {run['connections']} | {run['messages']:,} | {run['messages_per_second']} "
            f"| {run['ack_median_ms']} ms | {run['ack_p95_ms']} ms |"
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"mllp-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    progress(f"results written to {path.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
