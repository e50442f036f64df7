"""`crm demo`: the generator framework, and the same seed giving the same data."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from crm.demo.registry import GENERATORS, DemoContext, generator

ROOT = Path(__file__).resolve().parents[3]

FINGERPRINT = r"""
import hashlib, json
from django.apps import apps
from django.db import models
SKIP_MODELS = {"core.auditentry", "core.idempotencyrecord", "core.workerheartbeat"}
digest = {}
for model in apps.get_models():
    label = model._meta.label_lower
    # Unmanaged models are derived by the database (search terms follow the customers; SQLite has none).
    if not model.__module__.startswith("crm.") or label in SKIP_MODELS or not model._meta.managed:
        continue
    fields = [f.attname for f in model._meta.concrete_fields
              if not isinstance(f, models.DateTimeField) and f.name not in {"password", "hash", "prev_hash"}
              and "Encrypted" not in type(f).__name__]
    rows = list(model.objects.order_by("pk").values_list(*fields))
    digest[label] = [len(rows), hashlib.sha256(repr(rows).encode()).hexdigest()]
print(json.dumps(digest, sort_keys=True))
"""


@pytest.fixture
def registered() -> Iterator[list[str]]:
    from crm.demo.management.commands.demo import load_generators

    load_generators()  # import the apps' generators first, so restoring keeps them
    calls: list[str] = []
    saved = list(GENERATORS)

    @generator(5, "probe-a")
    def probe_a(ctx: DemoContext) -> None:
        calls.append(f"a:{ctx.rng('a').random():.6f}")
        ctx.add_rows("probe", 3)

    @generator(6, "probe-b")
    def probe_b(ctx: DemoContext) -> None:
        calls.append("b")

    yield calls
    GENERATORS[:] = saved


def test_rng_is_deterministic_per_name_and_seed() -> None:
    ctx = DemoContext(customers=1, seed=7, progress=False, state={}, stdout=io.StringIO())
    other = DemoContext(customers=1, seed=8, progress=False, state={}, stdout=io.StringIO())
    assert ctx.rng("customers").random() == ctx.rng("customers").random()
    assert ctx.rng("customers").random() != ctx.rng("orders").random()
    assert ctx.rng("customers").random() != other.rng("customers").random()


@pytest.mark.django_db
def test_only_runs_the_chosen_generators_in_order_and_reports_rows(registered: list[str]) -> None:
    out = io.StringIO()
    call_command("demo", only=["probe-b", "probe-a"], no_progress=True, json=True, seed=1, stdout=out)
    assert [c[0] for c in registered] == ["a", "b"]
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["rows"] == {"probe": 3}


@pytest.mark.django_db
def test_same_seed_same_random_stream(registered: list[str]) -> None:
    call_command("demo", only=["probe-a"], no_progress=True, seed=3, stdout=io.StringIO())
    call_command("demo", only=["probe-a"], no_progress=True, seed=3, stdout=io.StringIO())
    call_command("demo", only=["probe-a"], no_progress=True, seed=4, stdout=io.StringIO())
    assert registered[0] == registered[1] != registered[2]


def test_unknown_generator_and_negative_size_are_refused() -> None:
    with pytest.raises(CommandError, match="Unknown generator"):
        call_command("demo", only=["nope"], stdout=io.StringIO())
    with pytest.raises(CommandError, match="0 or more"):
        call_command("demo", customers=-1, stdout=io.StringIO())


def test_list_names_every_generator() -> None:
    out = io.StringIO()
    call_command("demo", list=True, stdout=out)
    assert "users and teams" in out.getvalue()


def test_same_seed_gives_the_same_database(tmp_path: Path) -> None:
    # given: one migrated empty database, copied twice
    env = {"PATH": "/usr/bin:/bin", "CRM_ENV": "development", "CRM_LOG_LEVEL": "WARNING",
           "CRM_TASK_BACKEND": "immediate", "HOME": os.environ.get("HOME", "/root")}  # fmt: skip
    base = tmp_path / "base"
    _crm(["migrate", "-v", "0"], {**env, "CRM_DATA_DIR": str(base)})
    prints = []
    for name in ("one", "two"):
        data_dir = tmp_path / name
        data_dir.mkdir()
        shutil.copyfile(base / "crm.sqlite3", data_dir / "crm.sqlite3")
        run_env = {**env, "CRM_DATA_DIR": str(data_dir)}
        # when: the demo runs with the same seed and size
        _crm(["demo", "--customers", "40", "--seed", "99", "--no-progress"], run_env)
        prints.append(_crm(["shell", "-c", FINGERPRINT], run_env).strip().splitlines()[-1])
    # then: every table holds the same rows
    first, second = (json.loads(p) for p in prints)
    assert first["identity.user"][0] > 1
    assert first == second


def _crm(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "crm.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout
