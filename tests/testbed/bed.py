"""The multi-host test bed: three "hosts" (127.0.0.2, .3, .4), each running
`antechamber serve --workers 2`, behind HAProxy with health checks on /readyz, on one
PostgreSQL (its own, started here) and a 6-node Redis Cluster (3 masters, 3 replicas).

`python -m tests.testbed.bed` (or `scripts/testbed.sh`) starts it and prints its
addresses until interrupted; tests and `bench/multihost_faults.py` build it in-process.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.redis_cluster import RedisClusterBed, start_cluster
from tests.serve_process import Served, serve_env
from tests.servers import free_port
from tests.testbed.haproxy import Haproxy
from tests.testbed.postgres import PostgresInstance

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
METRICS_TOKEN = "testbed-metrics-token-0123456789"
GRACE_S = 5


@dataclass
class Bed:
    folder: Path
    postgres: PostgresInstance
    redis: RedisClusterBed
    hosts: list[Served]
    balancer: Haproxy
    names: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.balancer.url

    def host_named(self, name: str) -> Served:
        return self.hosts[self.names.index(name)]

    def all_up(self, timeout_s: float = 30) -> float:
        return self.balancer.wait_states(dict.fromkeys(self.names, "UP"), timeout_s)

    def restart_host(self, host: Served) -> None:
        host.start()

    def stop(self) -> None:
        for host in self.hosts:
            try:
                host.stop()
            except Exception:  # noqa: BLE001 - stop everything else anyway
                host.signal(9)
        self.balancer.stop()
        self.redis.stop()
        self.postgres.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_bed(workers: int = 2, **env_extra: str) -> Bed:
    folder = Path(tempfile.mkdtemp(prefix="antechamber-testbed-"))
    postgres = PostgresInstance().start()
    redis: RedisClusterBed | None = None
    hosts: list[Served] = []
    balancer: Haproxy | None = None
    try:
        redis = start_cluster()
        settings = {
            "ANTECHAMBER_LOG_FORMAT": "json",
            "ANTECHAMBER_METRICS_TOKEN": METRICS_TOKEN,
            "ANTECHAMBER_LOG_LEVEL": "info",
            "ANTECHAMBER_SHUTDOWN_TIMEOUT_S": str(GRACE_S),
            **env_extra,
        }
        env = serve_env(postgres.url, redis.url, **settings)
        subprocess.run(
            [sys.executable, "-m", "antechamber.cli", "migrate"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        port = free_port()
        for index, address in enumerate(HOSTS):
            host_env = {**env, "ANTECHAMBER_METRICS_DIR": str(folder / f"metrics-{index}")}
            hosts.append(
                Served(
                    host_env,
                    host=address,
                    port=port,
                    workers=workers,
                    log=folder / f"host{index + 1}.log",
                    extra_args=("--forwarded-allow-ips", "127.0.0.1"),
                ).start(wait=False)
            )
        for host in hosts:
            host.wait_ready()
        names = [f"host{i + 1}" for i in range(len(hosts))]
        balancer = Haproxy(
            folder,
            free_port(),
            [(name, f"{h.host}:{h.port}") for name, h in zip(names, hosts, strict=True)],
        ).start()
        bed = Bed(folder, postgres, redis, hosts, balancer, names)
        bed.all_up()
        return bed
    except BaseException:
        for host in hosts:
            host.stop()
        if balancer is not None:
            balancer.stop()
        if redis is not None:
            redis.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise


def main() -> int:
    bed = start_bed()
    print(f"balancer: {bed.url}")
    for name, host in zip(bed.names, bed.hosts, strict=True):
        print(f"{name}: {host.url} (log {host.log})")
    print(f"redis: {bed.redis.url}")
    print(f"postgresql: {bed.postgres.url}")
    print(f"metrics token: {METRICS_TOKEN}")
    print("Ctrl-C stops everything.")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        bed.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
