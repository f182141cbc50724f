"""The GCE scripts in dry-run mode print the exact commands of the reference deployment."""
import os
import pathlib
import shutil
import subprocess

import pytest

GCE = pathlib.Path(__file__).resolve().parents[2] / "deploy" / "gce"


def dry_run(script, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    out = subprocess.run(["bash", str(GCE / script), "--dry-run"], capture_output=True, text=True,
                         env=full_env, timeout=30)
    assert out.returncode == 0, out.stderr
    return [line.split() for line in out.stdout.splitlines() if line.strip()]


def find(commands, *words):
    for c in commands:
        if all(w in c for w in words):
            return c
    raise AssertionError(f"no command with {words}")


def test_autoscaling_matches_reference_workflow():
    cmds = dry_run("create-instance-group.sh")
    auto = find(cmds, "set-autoscaling")
    assert "--max-num-replicas=4" in auto
    assert "--min-num-replicas=2" in auto
    assert "--cool-down-period=360" in auto
    metric = [a for a in auto if a.startswith("--custom-metric-utilization=")][0]
    assert "utilization-target=85" in metric and "gpu/utilization" in metric
    group = find(cmds, "instance-groups", "managed", "create")
    assert "--zones=us-central1-a,us-central1-b" in group
    hc = find(cmds, "health-checks", "create")
    assert "--request-path=/v1/models/default" in hc and "--port=8888" in hc


def test_firewall_opens_80_and_8888():
    cmds = dry_run("create-firewall.sh")
    http = find(cmds, "firewall-rules", "create", "kiln-allow-http")
    assert "--rules=tcp:80,tcp:8888" in http
    hc = find(cmds, "firewall-rules", "create", "kiln-allow-health-checks")
    assert "--source-ranges=130.211.0.0/22,35.191.0.0/16" in hc


def test_load_balancer_chain():
    cmds = dry_run("create-load-balancer.sh")
    order = [" ".join(c[:4]) for c in cmds]
    expected = ["backend-services create", "backend-services add-backend", "url-maps create",
                "target-http-proxies create", "addresses create", "forwarding-rules create"]
    positions = [next(i for i, o in enumerate(order) if e in o) for e in expected]
    assert positions == sorted(positions)
    assert "--ports=80" in find(cmds, "forwarding-rules", "create")


def test_instance_template_has_gpus_and_startup_script():
    cmds = dry_run("create-instance-template.sh", {"KILN_GPU_TYPE": "nvidia-h100-80gb", "KILN_GPU_COUNT": "4"})
    t = find(cmds, "instance-templates", "create")
    assert "--accelerator=type=nvidia-h100-80gb,count=4" in t
    assert any(a.startswith("--metadata-from-file=startup-script=") for a in t)


def test_cleanup_deletes_everything_in_reverse_order():
    created = [c for c in dry_run("deploy.sh") if "create" in c]
    deleted = [c for c in dry_run("cleanup.sh") if "delete" in c]
    kinds = lambda cmds, verb: [" ".join(c[2:c.index(verb)]) for c in cmds]
    assert set(kinds(deleted, "delete")) == set(kinds(created, "create"))
    # the forwarding rule, created last, goes first; the template, created first, goes last
    assert "forwarding-rules" in deleted[0] and "instance-templates" in deleted[-1]


def test_project_setting_is_passed():
    cmds = dry_run("create-firewall.sh", {"KILN_PROJECT": "my-proj"})
    assert all("--project=my-proj" in c for c in cmds)


def test_unknown_option_is_rejected():
    out = subprocess.run(["bash", str(GCE / "deploy.sh"), "--bogus"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "unknown option" in out.stderr


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
def test_scripts_are_shellcheck_clean():
    scripts = sorted(str(p) for p in GCE.glob("*.sh"))
    out = subprocess.run(["shellcheck", "-x", *scripts], capture_output=True, text=True, cwd=GCE, timeout=60)
    assert out.returncode == 0, out.stdout
