"""A throwaway 6-node Redis Cluster (3 masters, 3 replicas) from Debian's redis-server,
on free loopback ports in a temporary folder, for tests, the test bed and benchmarks.

Short `cluster-node-timeout` so a failover takes a couple of seconds; no persistence
(a killed node comes back empty and rejoins as a replica).
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import redis
from redis.asyncio.cluster import RedisCluster

from antechamber.redis_client import build_redis
from antechamber.settings import RedisSettings

NODE_TIMEOUT_MS = 1000
START_TIMEOUT_S = 30.0


def redis_server_binary() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


@dataclass
class Node:
    port: int
    folder: Path
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"{self.host}:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host=self.host, port=self.port, socket_timeout=2)


@dataclass
class RedisClusterBed:
    nodes: list[Node]
    folder: Path
    binary: str
    stopped: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(node.name for node in self.nodes[:3])

    def start_node(self, node: Node) -> None:
        node.folder.mkdir(parents=True, exist_ok=True)
        for leftover in ("nodes.conf",):
            (node.folder / leftover).unlink(missing_ok=True)
        with open(node.folder / "server.log", "ab") as log:
            node.process = self._popen(node, log)
        self._wait_up(node)

    def _popen(self, node: Node, log: IO[bytes]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                self.binary,
                "--port",
                str(node.port),
                "--bind",
                node.host,
                "--dir",
                str(node.folder),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                # A replica may always take over, however long since it last heard its
                # master (the default refuses after 10 node time-outs).
                "--cluster-replica-validity-factor",
                "0",
                "--protected-mode",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def _wait_up(self, node: Node) -> None:
        assert node.process is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if node.process.poll() is not None:
                log = (node.folder / "server.log").read_text(errors="replace")[-1000:]
                raise RuntimeError(f"redis-server on {node.name} exited: {log}")
            try:
                client = node.client()
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def create(self) -> None:
        for node in self.nodes:
            self.start_node(node)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(node.name for node in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )
        self.wait_ok()

    def wait_ok(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Every running node says the cluster is ok and serves all slots with a master."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if all(self._ok(node) for node in self.running()):
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the Redis Cluster did not become ok")
            time.sleep(0.1)

    @staticmethod
    def _ok(node: Node) -> bool:
        client = node.client()
        try:
            info = _command(client, "CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text or "cluster_slots_ok:16384" not in text:
                return False
            replication = client.info("replication")
            # A replica counts once it has synced: only then can it take over.
            return bool(
                replication.get("role") == "master" or replication.get("master_link_status") == "up"
            )
        finally:
            client.close()

    def running(self) -> list[Node]:
        return [n for n in self.nodes if n.process is not None and n.process.poll() is None]

    def masters(self) -> list[Node]:
        masters = []
        for node in self.running():
            client = node.client()
            try:
                role = _command(client, "ROLE")
            finally:
                client.close()
            if role[0] in (b"master", "master"):
                masters.append(node)
        return masters

    def master_of(self, key: str) -> Node:
        client = self.running()[0].client()
        try:
            slot = int(_command(client, "CLUSTER", "KEYSLOT", key))
            for start, end, master, *_replicas in _command(client, "CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    name = _node_of(master)
                    return next(n for n in self.nodes if n.name == name)
        finally:
            client.close()
        raise RuntimeError(f"no master serves {key}")

    def wait_replicated(self, master: Node, timeout_s: float = START_TIMEOUT_S) -> None:
        """Until every replica of `master` has all it has written so far (its replication
        offset): a write the master acknowledged then survives a fail-over."""
        client = master.client()
        try:
            target = int(client.info("replication")["master_repl_offset"])
            deadline = time.monotonic() + timeout_s
            while True:
                replication = client.info("replication")
                replicas = [v for k, v in replication.items() if k.startswith("slave")]
                offsets = [int(r["offset"]) for r in replicas if isinstance(r, dict)]
                if offsets and min(offsets) >= target:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{master.name}'s replicas did not catch up")
                time.sleep(0.05)
        finally:
            client.close()

    def kill(self, node: Node) -> None:
        assert node.process is not None
        node.process.send_signal(signal.SIGKILL)
        node.process.wait(10)
        self.stopped.append(node)

    def flush(self) -> None:
        for node in self.masters():
            client = node.client()
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        for node in self.nodes:
            if node.process is not None and node.process.poll() is None:
                node.process.terminate()
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(10)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _command(client: redis.Redis, *args: str) -> Any:
    return client.execute_command(*args)  # type: ignore[no-untyped-call]


def _node_of(entry: object) -> str | None:
    if isinstance(entry, list | tuple) and len(entry) >= 2:
        host = entry[0].decode() if isinstance(entry[0], bytes) else str(entry[0])
        return f"{host}:{int(entry[1])}"
    return None


def cluster_port(host: str = "127.0.0.1") -> int:
    """A free port whose cluster-bus port (+10000) is free too (Redis requires <= 55535)."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randint(20000, 45000)
        if all(_free(host, p) for p in (port, port + 10000)):
            return port
    raise RuntimeError("no free port pair for a Redis Cluster node")


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def start_cluster(host: str = "127.0.0.1") -> RedisClusterBed:
    binary = redis_server_binary()
    if binary is None or shutil.which("redis-cli") is None:
        raise FileNotFoundError("redis-server/redis-cli not installed (Debian: redis-server)")
    folder = Path(tempfile.mkdtemp(prefix="antechamber-redis-cluster-"))
    nodes = [Node(cluster_port(host), folder / f"node{i}", host) for i in range(6)]
    bed = RedisClusterBed(nodes, folder, binary)
    try:
        bed.create()
    except BaseException:
        bed.stop()
        raise
    return bed


def start_cluster_or_skip() -> RedisClusterBed:
    import os

    try:
        return start_cluster()
    except FileNotFoundError as exc:
        if os.environ.get("ANTECHAMBER_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{exc}; a Redis Cluster is required")
        pytest.skip(f"{exc}: Redis Cluster tests skipped")


def _redis_cluster_fixture() -> Iterator[RedisClusterBed]:
    bed = start_cluster_or_skip()
    try:
        yield bed
    finally:
        bed.stop()


# One 6-node cluster for the whole run; tests that kill nodes start their own.
redis_cluster = pytest.fixture(scope="session", name="redis_cluster")(_redis_cluster_fixture)


def cluster_client(bed: RedisClusterBed, retry_s: float = 15.0) -> RedisCluster:
    """The service's own client for this cluster (as `REDIS_URL` would build it), on an
    emptied cluster."""
    bed.flush()
    client = build_redis(RedisSettings(url=bed.url, cluster_retry_s=retry_s))
    assert isinstance(client, RedisCluster)
    return client
