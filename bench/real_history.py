"""`migrate squash` on a real project's history: MLflow's tracking-store migrations.

    pip install mlflow-skinny   # (in a virtualenv that also has this project installed)
    python bench/real_history.py [--keep 10]

Copies the migrations folder MLflow ships (its own env.py, ~70 revisions written by the
MLflow maintainers, Apache-2.0) into a temporary project. MLflow's first revision expects the
tables of its initial models to exist (MLflow runs `InitialBase.metadata.create_all` before
upgrading), so the copy gets one revision below it that does exactly that. Then it upgrades
a SQLite database to head through the whole history, squashes every revision but the last
`--keep` with `migrate squash` (the proof must pass), upgrades a fresh database through the
baseline, and compares the two databases with `migrate diff`. Prints each step's output and
the times.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIGRATE = str(Path(sys.executable).with_name("migrate"))
INITIAL = "mlflowinitial"
INITIAL_REVISION = f'''"""MLflow's initial models, as mlflow.store.db.utils creates them."""
from alembic import op
from mlflow.store.tracking.dbmodels.initial_models import Base

revision = {INITIAL!r}
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    Base.metadata.create_all(op.get_bind())


def downgrade():
    Base.metadata.drop_all(op.get_bind())
'''


def run(project: Path, *args: str) -> tuple[str, float]:
    started = time.perf_counter()
    done = subprocess.run(
        [MIGRATE, *args], cwd=project, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        sys.exit(f"migrate {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=int, default=10, help="revisions left after the baseline")
    keep = parser.parse_args().keep
    try:
        import mlflow.store.db_migrations as shipped
    except ImportError:
        sys.exit("needs MLflow: pip install mlflow-skinny")
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    with tempfile.TemporaryDirectory(prefix="bench-real-history-") as folder:
        project = Path(folder)
        shutil.copytree(
            shipped.__path__[0],
            project / "migrations",
            ignore=shutil.ignore_patterns("__pycache__", "alembic.ini"),
        )
        versions = project / "migrations" / "versions"
        first = versions / "451aebb31d03_add_metric_step.py"
        first.write_text(
            first.read_text().replace("down_revision = None", f"down_revision = {INITIAL!r}")
        )
        (versions / f"{INITIAL}_initial_models.py").write_text(INITIAL_REVISION)
        (project / ".env").write_text(
            "DATABASE_URL=sqlite:///old.sqlite\nMIGRATIONS_DIR=migrations\n"
        )
        config = Config()
        config.set_main_option("script_location", str(project / "migrations"))
        history = [found.revision for found in ScriptDirectory.from_config(config).walk_revisions()]
        history.reverse()  # oldest first
        target = history[-keep - 1]
        print(f"MLflow {shipped.__name__}: {len(history)} revisions; squashing up to {target}")

        _, old_seconds = run(project, "upgrade", "head")
        squashed, squash_seconds = run(project, "squash", target)
        print(squashed.rstrip())
        files = len(list(versions.glob("*.py"))) - 1  # (__init__.py)
        _, fresh_seconds = run(project, "--database-url", "sqlite:///fresh.sqlite", "upgrade")
        compared, _ = run(project, "diff", "sqlite:///old.sqlite", "sqlite:///fresh.sqlite")
        print(compared.rstrip().splitlines()[-1])
    print(f"fresh upgrade head, old history ({len(history)} revisions): {old_seconds:6.2f}s")
    print(f"fresh upgrade head, squashed ({files} revision files):   {fresh_seconds:6.2f}s")
    print(f"the squash itself (replay, render, proof):       {squash_seconds:6.2f}s")


if __name__ == "__main__":
    main()
