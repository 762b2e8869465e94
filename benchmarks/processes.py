"""Processes under test: the bot (`python -m bot`), the Express peer, and wrk, read via /proc."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from benchmarks.figures import BenchmarkFailure

REPO = Path(__file__).resolve().parents[1]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 30.0
# wrk's own deadline: it is interrupted as soon as its requests are all answered, so this only
# bounds a run on a machine so busy that 20,000 requests take minutes (seen: over 120 s).
WRK_SECONDS = 900


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name: state is field 3, utime 14 and stime 15 (1-based, man proc).
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def memory_bytes(pid: int, field: str) -> int:
    """A line of /proc/PID/status in bytes: VmRSS (resident now) or VmHWM (peak resident)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise BenchmarkFailure(f"no {field} in /proc/{pid}/status")


@dataclass
class Server:
    """A server process under test, with its log file and its HTTP address."""

    name: str
    process: asyncio.subprocess.Process
    url: str
    log_path: Path
    started_at: float

    @property
    def pid(self) -> int:
        return self.process.pid

    async def wait_until_answering(self, path: str) -> float:
        """Seconds from the process start to `path` answering 200."""
        deadline = self.started_at + START_TIMEOUT_SECONDS
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise BenchmarkFailure(
                        f"{self.name} exited with {self.process.returncode} at start-up:\n"
                        + self.log_tail()
                    )
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(self.url + path) as response:
                        if response.status == 200:
                            return time.monotonic() - self.started_at
                await asyncio.sleep(0.005)
        raise BenchmarkFailure(
            f"{self.name} did not answer {path} within {START_TIMEOUT_SECONDS} s"
        )

    async def stop(self) -> None:
        """SIGTERM, and insist on the clean exit (code 0) that the README promises."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                raise BenchmarkFailure(f"{self.name} did not stop within 30 s of SIGTERM") from None
        if self.process.returncode not in (0, -signal.SIGTERM):
            raise BenchmarkFailure(
                f"{self.name} exited with {self.process.returncode}:\n" + self.log_tail()
            )

    def log_tail(self, lines: int = 20) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


async def start_server(
    name: str, command: list[str], env: dict[str, str], cwd: Path, url: str
) -> Server:
    log_path = cwd / f"{name}.log"
    with log_path.open("wb") as log:
        started_at = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *command, cwd=cwd, env=env, stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    return Server(name, process, url, log_path, started_at)


def bot_environment(**settings: str) -> dict[str, str]:
    """The bot's environment: the machine's PATH, the repo on PYTHONPATH, and the settings."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO), **settings}


async def start_bot(settings: dict[str, str], workdir: Path, port: int) -> Server:
    # The working directory is a fresh folder, so no .env of the machine is read.
    return await start_server(
        "bot",
        [sys.executable, "-m", "bot"],
        bot_environment(**settings, HTTP_HOST="127.0.0.1", HTTP_PORT=str(port)),
        workdir,
        f"http://127.0.0.1:{port}",
    )


@dataclass(frozen=True)
class LoadResult:
    requests: int
    non_2xx: int
    socket_errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def run_wrk(url: str, requests_file: Path, count: int, connections: int) -> LoadResult:
    """POST the first `count` pre-signed requests of the file with wrk, then stop."""
    script = Path(__file__).with_name("webhook_once.lua")
    env = {**os.environ, "REQS": str(requests_file), "COUNT": str(count)}
    process = await asyncio.create_subprocess_exec(
        "wrk", "-t1", f"-c{connections}", f"-d{WRK_SECONDS}s", "--timeout", "30s",
        "-s", str(script), url,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    results: dict[str, float] = {}
    async for line in process.stdout:
        if line.startswith(b"{"):
            results |= json.loads(line)
        if "elapsed" in results and process.returncode is None:
            # wrk sleeps for its whole -d; an interrupt ends the sleep and prints the figures.
            process.send_signal(signal.SIGINT)
    _, stderr = await process.communicate()
    if "elapsed" not in results or "p99_ms" not in results:
        raise BenchmarkFailure(
            f"wrk ({process.returncode}) gave no figures: {stderr.decode()}(not all {count}"
            f" requests answered within {WRK_SECONDS} s?)"
        )
    return LoadResult(
        requests=count,
        non_2xx=int(results["non_2xx"]),
        socket_errors=int(results["socket_errors"]),
        seconds=results["elapsed"],
        p50_ms=results["p50_ms"],
        p95_ms=results["p95_ms"],
        p99_ms=results["p99_ms"],
    )
