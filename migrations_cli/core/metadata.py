"""Find the models' MetaData: the one rule every command follows (create, check, doctor,
verify) is MIGRATIONS_METADATA when it is set, otherwise what env.py gives Alembic as
`target_metadata`."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migrations_cli.core.errors import SettingsError, describe, first_line
from migrations_cli.core.output import mask_outside

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import MetaData

    from migrations_cli.core.context import MigrationsContext

NO_MODELS_FOUND = (
    "MIGRATIONS_METADATA is not set and env.py gives Alembic no target_metadata, so there "
    "are no models to compare"
)
NO_MODELS = (
    f"{NO_MODELS_FOUND}: set MIGRATIONS_METADATA to the models' MetaData, e.g. "
    "MIGRATIONS_METADATA=app.models:Base.metadata (or target_metadata in env.py)"
)


def without_models(context: MigrationsContext) -> bool:
    """Known without running env.py: no MIGRATIONS_METADATA, and migrations-cli's env.py
    (which gives Alembic nothing else)."""
    from migrations_cli.core.env_py import is_projects_own_env_py

    return context.settings.metadata is None and not is_projects_own_env_py(context.script)


@dataclass(frozen=True)
class Models:
    """The models' MetaData (None: no models) and where it was found, in words."""

    metadata: MetaData | list[MetaData] | None
    source: str


def resolve_models(context: MigrationsContext) -> Models:
    """MIGRATIONS_METADATA when set; otherwise the target_metadata the project's own env.py
    passes to `context.configure()` (migrations-cli's env.py passes MIGRATIONS_METADATA's).
    """
    settings = context.settings
    if settings.metadata is not None:
        return Models(load_metadata(settings.metadata), settings.metadata)
    if without_models(context):
        return Models(None, "MIGRATIONS_METADATA is not set")
    found = env_py_metadata(context.alembic_config)
    return Models(_checked(found, "env.py's target_metadata"), "env.py's target_metadata")


def env_py_metadata(config: Config) -> Any:
    """The target_metadata env.py passes to `context.configure()`: env.py runs as far as that
    call, offline first (no connection; `alembic upgrade --sql` runs it so), then online if
    its offline branch gives none. A failure is an error naming env.py."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.script import ScriptDirectory

    from migrations_cli.running.configure_options import StopAtConfigure, adjusted_configure

    script = ScriptDirectory.from_config(config)
    failure: Exception | None = None
    for offline in (True, False):
        with adjusted_configure({}, stop=True) as configured:
            try:
                with EnvironmentContext(config, script, fn=lambda rev, context: [], as_sql=offline):
                    script.run_env()
            except StopAtConfigure:
                pass
            except Exception as error:
                failure = error
        if configured.target_metadata is not None:
            return configured.target_metadata
    if failure is not None:
        raise SettingsError(f"env.py failed before giving its target_metadata: {describe(failure)}")
    return None


def load_metadata(path: str) -> MetaData | list[MetaData]:
    """Import ``package.module:attribute.path`` and check it is MetaData (or a list of them)."""
    module_name, _, attribute_path = path.partition(":")
    try:
        found: object = importlib.import_module(module_name)
    except SystemExit as exit_:  # (or the command would end with its code, saying nothing)
        raise SettingsError(
            f"MIGRATIONS_METADATA={path!r}: importing {module_name} called "
            f"sys.exit({exit_.code!r}); a models module must not exit when imported (move "
            "that code under `if __name__ == '__main__':`)"
        ) from None
    except Exception as error:
        raise SettingsError(
            f"MIGRATIONS_METADATA={path!r}: importing {module_name} failed: "
            f"{type(error).__name__}: {mask_outside(first_line(str(error)))}"
        ) from None
    for attribute in attribute_path.split("."):
        try:
            found = getattr(found, attribute)
        except AttributeError:
            raise SettingsError(
                f"MIGRATIONS_METADATA={path!r}: {module_name} has no attribute {attribute_path}"
            ) from None
    metadata = _checked(found, f"MIGRATIONS_METADATA={path!r}")
    if metadata is None:
        raise SettingsError(f"MIGRATIONS_METADATA={path!r} is None, not a SQLAlchemy MetaData")
    return metadata


def _checked(found: object, what: str) -> MetaData | list[MetaData] | None:
    """`found` as MetaData or a list of them (as target_metadata takes); None stays None."""
    from sqlalchemy import MetaData

    if found is None or isinstance(found, MetaData):
        return found
    if (
        isinstance(found, (list, tuple))
        and found
        and all(isinstance(item, MetaData) for item in found)
    ):
        return list(found)
    raise SettingsError(f"{what} is a {type(found).__name__}, not a SQLAlchemy MetaData")
