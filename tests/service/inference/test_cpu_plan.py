"""Inference workers and threads from the cores available, cgroup quotas included."""

from pathlib import Path

import pytest

from service.inference.cpu_plan import CpuPlan, available_cores, cpu_plan, process_count


@pytest.mark.parametrize(
    ("cores", "plan"),
    [
        (1, CpuPlan(workers=2, threads=1)),
        (2, CpuPlan(workers=2, threads=2)),
        (4, CpuPlan(workers=2, threads=2)),
        (16, CpuPlan(workers=8, threads=2)),
        (64, CpuPlan(workers=32, threads=2)),
    ],
)
def test_plan_grows_with_cores(cores: int, plan: CpuPlan) -> None:
    assert cpu_plan(cores) == plan


def test_a_given_number_sets_the_other() -> None:
    assert cpu_plan(16, workers=4) == CpuPlan(workers=4, threads=4)
    assert cpu_plan(16, threads=4) == CpuPlan(workers=4, threads=4)
    assert cpu_plan(16, workers=3, threads=1) == CpuPlan(workers=3, threads=1)


@pytest.mark.parametrize(
    ("cpu_max", "cap"), [("250000 100000", 3), ("50000 100000", 1), ("max 100000", None)]
)
def test_cgroup_quota_caps_the_cores(tmp_path: Path, cpu_max: str, cap: int | None) -> None:
    (tmp_path / "cpu.max").write_text(cpu_max + "\n")
    affinity = available_cores(tmp_path / "missing")
    expected = affinity if cap is None else min(affinity, cap)
    assert available_cores(tmp_path / "cpu.max") == expected


@pytest.mark.parametrize(
    ("cores", "processes"), [(1, 1), (2, 1), (7, 1), (8, 2), (16, 4), (64, 16)]
)
def test_one_process_per_four_cores(cores: int, processes: int) -> None:
    assert process_count(cores) == processes
