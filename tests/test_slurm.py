"""profiles/slurm against a real SLURM: a single-node cluster on loopback (.ci/slurm.sh) runs the
demo workflow through `snakemake --profile profiles/slurm` to the end, with one job made to fail
on its first attempt (test-only fault injection: tests/fault_injection on PYTHONPATH, see
helpers.failing_once) that must be reported as failed and retried with more memory.

Required when CI=true (.ci/run installs SLURM first); otherwise it runs only with
TRANSGRN_TEST_SLURM=1 on a machine with SLURM installed (`sudo .ci/slurm.sh install`), as root,
and is skipped everywhere else.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from helpers import REPO, failing_once, workflow_config

pytestmark = pytest.mark.workflow

REQUIRED = os.environ.get("CI") == "true"
REQUESTED = REQUIRED or os.environ.get("TRANSGRN_TEST_SLURM") == "1"
SCRIPT = REPO / ".ci/slurm.sh"
# 3 transitions, whose 4 jobs each --group-components transition=2 packs into 2 group jobs
CONFIG = {**workflow_config("tiny_demo"), "seed": 3}
FAILING_RULE = "fit_grn"  # its first cluster job fails (helpers.failing_once)
# The test cluster is one 2-CPU node without an accounting database: poll with squeue, check
# early, pack 2 transitions per SLURM job (3 transitions -> 2 packed jobs) and allow one retry.
# --verbose logs every sbatch call and the kept SLURM logs show each job's resources, so the test
# can see the memory each attempt asked for.
TEST_OVERRIDES = ["--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5",
                  "--cores", "2", "--resources", "mem_mb=8000", "--group-components", "transition=2", "--retries", "1",
                  "--verbose", "--slurm-keep-successful-logs"]


def missing_requirements() -> list[str]:
    missing = [tool for tool in ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue") if not shutil.which(tool)]
    if os.geteuid() != 0:
        missing.append("root (slurmd runs the jobs)")
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        missing.append("snakemake-executor-plugin-slurm (pip install -e '.[slurm]')")
    return missing


@pytest.fixture(scope="module")
def slurm_cluster():
    if not REQUESTED:
        pytest.skip("SLURM end-to-end test: runs when CI=true or TRANSGRN_TEST_SLURM=1 (needs root and SLURM: "
                    ".ci/slurm.sh install)")
    missing = missing_requirements()
    if missing:
        message = f"SLURM end-to-end test cannot run, missing: {', '.join(missing)}; run .ci/slurm.sh install"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    state = Path(tempfile.mkdtemp(prefix="transgrn-slurm-", dir="/tmp"))
    try:
        up = subprocess.run([str(SCRIPT), "up", str(state)], capture_output=True, text=True, timeout=180)
        assert up.returncode == 0, f"could not start SLURM:\n{up.stdout}\n{up.stderr}"
        conf = re.search(r"^export SLURM_CONF=(.+)$", up.stdout, re.M).group(1)
        pids = {name: int((state / f"{name}.pid").read_text()) for name in ("munge/munged", "slurmctld", "slurmd")}
        yield {"SLURM_CONF": conf}
    finally:
        down = subprocess.run([str(SCRIPT), "down", str(state)], capture_output=True, text=True, timeout=120)
        shutil.rmtree(state, ignore_errors=True)
    assert down.returncode == 0, down.stderr
    still_running = [name for name, pid in pids.items() if _alive(pid)]
    assert not still_running, f"daemons left running: {still_running}"


def submitted_jobs(log: str) -> list[tuple[str, int]]:
    """(what the submission runs, --mem of its sbatch call) for every sbatch call, in order. A group
    job is named by the Snakemake jobs it runs (--target-jobs): a retry resubmits the same ones. Only
    the sbatch line itself is read, because the plugin may log several sbatch calls before it logs
    their submissions, so pairing a call with the next 'has been submitted' line is a race."""
    jobs = []
    for line in log.splitlines():
        if "sbatch call:" in line:
            mem = int(re.search(r"--mem (\d+)", line).group(1))
            targets = re.search(r"--target-jobs ((?:'[^']+' ?)+)", line)
            name = " ".join(sorted(re.findall(r"'([^']+)'", targets.group(1)))) if targets else \
                re.search(r"--comment (\S+)", line).group(1)
            jobs.append((name, mem))
    return jobs


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_demo_through_the_slurm_profile_with_a_failed_and_retried_job(slurm_cluster, workflow_runner, tmp_path):
    workdir = tmp_path / "run"
    marker = tmp_path / "fit_grn-failed-once"
    # the jobs inherit the environment (sbatch --export=ALL), so the fault injection reaches them
    env = {**os.environ, **slurm_cluster, **failing_once(FAILING_RULE, marker)}
    command = ["timeout", "-k", "10", "-s", "KILL", "900",  # Snakemake waits on cluster jobs past a plain timeout
               *workflow_runner.command(workdir, CONFIG, "--profile", str(REPO / "profiles/slurm"), *TEST_OVERRIDES)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    log = result.stdout + result.stderr
    (tmp_path / "snakemake.log").write_text(log)
    assert result.returncode == 0, log[-8000:]

    # every job went through sbatch; the per-transition jobs (3 transitions) packed into group jobs of 2
    submissions = submitted_jobs(log)
    groups = [s for s in submissions if "map_cells:transition=" in s[0]]
    assert len({g[0] for g in groups}) == 2, submissions
    steps = int(re.findall(r"of (\d+) steps \(100%\) done", log)[-1])
    assert len(submissions) <= steps // 2, (steps, submissions)  # 23 jobs in 7 submissions (retry included)
    # the injected failure happened, was reported as failed and retried, with twice the memory
    assert marker.exists(), "the fault injection did not fire"
    assert "Error in group transition" in log and f"injected failure of this job of rule {FAILING_RULE}" in log, log[-4000:]
    assert "Trying to restart job" in log
    retried = [g for g in {g[0] for g in groups} if sum(s[0] == g for s in groups) == 2]
    assert len(retried) == 1, groups
    first, second = (mem for job, mem in groups if job == retried[0])
    assert second > first, (first, second)  # the packed job asks for more
    fit_job = next(job for job in retried[0].split() if job.startswith("fit_grn:"))
    slurm_logs = sorted((workdir / ".snakemake/slurm_logs").glob("group_transition*/*.log"), key=lambda p: int(p.stem))
    texts = [p.read_text() for p in slurm_logs]
    texts = [t for t in texts if fit_job.split(":")[1] in t and "rule fit_grn:" in t]
    fit_mem = [max(map(int, re.findall(r"rule fit_grn:.*?mem_mb=(\d+)", t, re.S))) for t in texts]
    assert len(fit_mem) == 2 and fit_mem[1] == 2 * fit_mem[0], fit_mem  # and the retried fit_grn job itself twice its memory
    # and the run finished with every result
    table = pd.read_csv(workdir / "results/transitions.tsv", sep="\t")
    assert len(table) == 3 and table["r2_test"].notna().all()
    assert (workdir / "results/report.html").stat().st_size > 0


def test_fault_injection_fails_the_first_cluster_job_of_one_rule_only(tmp_path):
    """tests/fault_injection (on PYTHONPATH): the first process whose --target-jobs names only jobs of
    the rule (the job's own process) fails; a process without the variable, for other rules or for a
    group that includes the rule runs, and the retry runs."""
    import sys

    marker = tmp_path / "failed-once"
    spec = failing_once("fit_grn", marker)

    def python(targets: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k != "TRANSGRN_TEST_FAIL_ONCE"} | environment
        return subprocess.run([sys.executable, "-c", "print('ran')", "--target-jobs", *targets, "--mode", "remote"],
                              capture_output=True, text=True, env=env, timeout=60)

    fit, other, group = ["'fit_grn:transition=a'"], ["map_cells:transition=a"], ["map_cells:transition=a", "fit_grn:transition=a"]
    unset = python(fit, {"PYTHONPATH": spec["PYTHONPATH"]})  # the module alone does nothing
    assert unset.returncode == 0 and unset.stdout == "ran\n" and not marker.exists()
    for targets in (other, group):
        assert python(targets, spec).stdout == "ran\n" and not marker.exists()
    first = python(fit, spec)
    assert first.returncode == 1 and first.stdout == "" and marker.exists()
    assert "injected failure of this job of rule fit_grn" in first.stderr and "Traceback" not in first.stderr
    retried = python(fit, spec)
    assert retried.returncode == 0 and retried.stdout == "ran\n"
