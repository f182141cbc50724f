#!/usr/bin/env python3
"""Local rehearsal of the multi-zone deployment, no cloud needed.

Two or more "zones" are network namespaces joined to this host by veth pairs (or, where
namespaces cannot be made, loopback ports: the output says which). Each zone runs
`kiln serve` on the CPU with a zoo model; HAProxy in front health-checks
GET /v1/models/default. The run:
  1. starts HAProxy first and checks every zone is DOWN while its server is not ready;
  2. starts the servers and waits until HAProxy marks every zone UP;
  3. drives load through HAProxy with `kiln loadgen`, stops one zone mid-run (SIGTERM),
     and restarts it after a while;
  4. checks: zero failed client requests, the survivors took the traffic while the zone was
     down, and the restarted zone rejoined and received traffic again.
It prints the numbers and writes them as JSON (--output-json). Exit 0 when all checks pass.
"""
import argparse
import csv
import io
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def log(msg):
    print(f"[rehearsal] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Zones:
    """Where each zone's server listens: a network namespace per zone, or loopback ports."""

    def __init__(self, count, prefix):
        self.count = count
        self.prefix = prefix
        self.namespaces = []
        self.use_netns, self.reason = self._try_netns()

    def _run(self, *cmd):
        subprocess.run(cmd, check=True, capture_output=True, text=True)

    def _try_netns(self):
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return False, "not root or no iproute2"
        try:
            for z in range(self.count):
                ns = f"{self.prefix}{z}"
                host_if, ns_if = f"{self.prefix}h{z}", f"{self.prefix}n{z}"
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
                self._run("ip", "netns", "add", ns)
                self.namespaces.append(ns)
                subprocess.run(["ip", "link", "del", host_if], capture_output=True)
                self._run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
                self._run("ip", "link", "set", ns_if, "netns", ns)
                self._run("ip", "addr", "add", f"10.231.{z + 1}.1/30", "dev", host_if)
                self._run("ip", "link", "set", host_if, "up")
                self._run("ip", "netns", "exec", ns, "ip", "addr", "add", f"10.231.{z + 1}.2/30", "dev", ns_if)
                self._run("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
                self._run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            return True, ""
        except subprocess.CalledProcessError as e:
            self.cleanup()
            return False, (e.stderr or str(e)).strip()

    def address(self, z):
        return (f"10.231.{z + 1}.2", 8888) if self.use_netns else ("127.0.0.1", 18880 + z)

    def wrap(self, z, cmd):
        return ["ip", "netns", "exec", self.namespaces[z], *cmd] if self.use_netns else cmd

    def cleanup(self):
        for z, ns in enumerate(self.namespaces):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            subprocess.run(["ip", "link", "del", f"{self.prefix}h{z}"], capture_output=True)
        self.namespaces = []


class Rehearsal:
    def __init__(self, args):
        self.args = args
        self.kiln = str(pathlib.Path(args.kiln).resolve())
        self.work = pathlib.Path(tempfile.mkdtemp(prefix="kiln-rehearsal-"))
        self.zones = Zones(args.zones, args.netns_prefix)
        self.servers = {}
        self.haproxy = None
        self.front_port = free_port()
        self.stats_socket = self.work / "haproxy.sock"

    # --- pieces -------------------------------------------------------------------------
    def prepare_model(self):
        version_dir = self.work / "models" / "default" / "1"
        version_dir.mkdir(parents=True)
        subprocess.run([self.kiln, "zoo", self.args.model, "--out", str(version_dir / "model.onnx")],
                       check=True, capture_output=True, timeout=120)
        return version_dir.parent

    def start_server(self, z, model_base):
        _, port = self.zones.address(z)
        cmd = self.zones.wrap(z, [self.kiln, "serve", f"--model-base-path={model_base}",
                                  "--model-name=default", f"--rest-api-port={port}", "--device=cpu"])
        logfile = open(self.work / f"zone{z}.log", "ab")
        self.servers[z] = subprocess.Popen(cmd, stdout=logfile, stderr=subprocess.STDOUT)

    def stop_server(self, z):
        proc = self.servers.pop(z)
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def start_haproxy(self):
        servers = "\n".join(
            f"    server zone{z} {self.zones.address(z)[0]}:{self.zones.address(z)[1]} check"
            for z in range(self.args.zones))
        cfg = (HERE / "haproxy.cfg.in").read_text().format(
            stats_socket=self.stats_socket, frontend_address=f"127.0.0.1:{self.front_port}", servers=servers)
        (self.work / "haproxy.cfg").write_text(cfg)
        self.haproxy = subprocess.Popen(["haproxy", "-f", str(self.work / "haproxy.cfg"), "-db"],
                                        stdout=open(self.work / "haproxy.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while not self.stats_socket.exists():
            if time.time() > deadline or self.haproxy.poll() is not None:
                raise RuntimeError("haproxy did not start: " + (self.work / "haproxy.log").read_text())
            time.sleep(0.1)

    def stats(self):
        """Per-zone HAProxy view: status (UP/DOWN) and HTTP 2xx responses served."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.stats_socket))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        rows = csv.DictReader(io.StringIO(data.decode().lstrip("# ")))
        return {r["svname"]: {"status": r["status"], "ok": int(r["hrsp_2xx"] or 0)}
                for r in rows if r["svname"].startswith("zone")}

    def wait_status(self, zone_names, wanted, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            st = self.stats()
            if all(st[z]["status"].startswith(wanted) for z in zone_names):
                return True
            time.sleep(0.2)
        return False

    # --- the run ------------------------------------------------------------------------
    def run(self):
        a = self.args
        results = {"zones": a.zones, "isolation": "network namespaces" if self.zones.use_netns else
                   f"loopback ports (network namespaces unavailable: {self.zones.reason})"}
        log(f"zones: {a.zones}, isolated by {results['isolation']}")
        model_base = self.prepare_model()
        names = [f"zone{z}" for z in range(a.zones)]

        self.start_haproxy()
        time.sleep(1.0)
        down_before_ready = self.wait_status(names, "DOWN", 5)
        results["health_check_down_before_ready"] = down_before_ready
        log(f"before the servers are ready HAProxy marks every zone DOWN: {down_before_ready}")

        for z in range(a.zones):
            self.start_server(z, model_base)
        up = self.wait_status(names, "UP", a.ready_timeout)
        results["health_check_up_once_ready"] = up
        log(f"once the models are loaded every zone is UP: {up}")
        if not up:
            return results, False

        loadgen_json = self.work / "loadgen.json"
        loadgen = subprocess.Popen(
            [self.kiln, "loadgen", f"--url=http://127.0.0.1:{self.front_port}", "--model=default",
             f"--concurrency={a.concurrency}", f"--duration={a.duration}", "--payload=jpeg",
             f"--image={a.image}", f"--output-json={loadgen_json}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        victim = names[0]
        time.sleep(a.duration * 0.25)
        before_stop = self.stats()
        log(f"stopping {victim} (SIGTERM) mid-run")
        exit_code = self.stop_server(0)
        results["stopped_zone_exit_code"] = exit_code
        marked_down = self.wait_status([victim], "DOWN", 10)
        down_at = self.stats()
        time.sleep(a.duration * 0.25)
        while_down = self.stats()
        log(f"restarting {victim}")
        self.start_server(0, model_base)
        rejoined = self.wait_status([victim], "UP", a.ready_timeout)
        rejoined_at = self.stats()
        out, _ = loadgen.communicate(timeout=a.duration + 120)
        after = self.stats()
        print(out, flush=True)

        report = json.loads(loadgen_json.read_text()) if loadgen_json.exists() else {}
        served = {z: after[z]["ok"] for z in names}
        results.update({
            "loadgen": report,
            "loadgen_exit_code": loadgen.returncode,
            "requests_ok_per_zone": served,
            "stopped_zone": victim,
            "stopped_zone_marked_down": marked_down,
            "survivor_requests_while_down": {z: while_down[z]["ok"] - down_at[z]["ok"] for z in names[1:]},
            "stopped_zone_requests_while_down": while_down[victim]["ok"] - down_at[victim]["ok"],
            "stopped_zone_requests_before_stop": before_stop[victim]["ok"],
            "rejoined": rejoined,
            "rejoined_zone_requests_after_restart": after[victim]["ok"] - rejoined_at[victim]["ok"],
        })
        failures = failed_requests(report)
        results["failed_requests"] = failures
        checks = {
            "zero failed client requests": failures == 0 and loadgen.returncode == 0,
            "stopped zone drained and exited cleanly": exit_code == 0,
            "stopped zone marked DOWN": marked_down,
            "survivors served while a zone was down": all(v > 0 for v in results["survivor_requests_while_down"].values()),
            "no traffic to the stopped zone while down": results["stopped_zone_requests_while_down"] == 0,
            "stopped zone rejoined": rejoined,
            "rejoined zone receives traffic again": results["rejoined_zone_requests_after_restart"] > 0,
            "health check DOWN before ready": down_before_ready,
        }
        results["checks"] = checks
        for name, ok in checks.items():
            log(f"{'PASS' if ok else 'FAIL'}: {name}")
        sent = report.get("requests", {}).get("completed", "?")
        log(f"requests sent: {sent}, failed: {failures}, served per zone: {served}, "
            f"while {victim} was down: {results['survivor_requests_while_down']}, "
            f"after it rejoined: {results['rejoined_zone_requests_after_restart']}")
        return results, all(checks.values())

    def cleanup(self):
        for z in list(self.servers):
            self.stop_server(z)
        if self.haproxy:
            self.haproxy.terminate()
            self.haproxy.wait(timeout=10)
        self.zones.cleanup()
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)


def failed_requests(report):
    """Failed client requests in a `kiln loadgen` JSON report (-1 when there is none)."""
    if not report:
        return -1
    return int(report["requests"]["failed"]) + int(report["errors"]["total"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kiln", default=str(ROOT / "build" / "kiln"))
    p.add_argument("--zones", type=int, default=2)
    p.add_argument("--model", default="mobilenet-v2")
    p.add_argument("--image", default=str(ROOT / "data" / "images" / "sample.jpg"))
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--ready-timeout", type=float, default=120)
    p.add_argument("--netns-prefix", default="kilnz")
    p.add_argument("--output-json")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args()
    if args.zones < 2:
        p.error("--zones must be at least 2")
    if shutil.which("haproxy") is None:
        print("error: haproxy not installed (scripts/setup installs it)", file=sys.stderr)
        return 2
    rehearsal = Rehearsal(args)
    try:
        results, ok = rehearsal.run()
    finally:
        rehearsal.cleanup()
    if args.output_json:
        pathlib.Path(args.output_json).write_text(json.dumps(results, indent=2))
    log("rehearsal " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
