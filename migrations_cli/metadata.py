"""Find the models' MetaData from the MIGRATIONS_METADATA import path."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from migrations_cli.errors import SettingsError, first_line
from migrations_cli.output import mask_outside

if TYPE_CHECKING:
    from sqlalchemy import MetaData


def load_metadata(path: str) -> MetaData | list[MetaData]:
    """Import ``package.module:attribute.path`` and check it is MetaData (or a list of them)."""
    from sqlalchemy import MetaData

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
    if isinstance(found, MetaData):
        return found
    if (
        isinstance(found, (list, tuple))
        and found
        and all(isinstance(item, MetaData) for item in found)
    ):
        return list(found)
    raise SettingsError(
        f"MIGRATIONS_METADATA={path!r} is a {type(found).__name__}, not a SQLAlchemy MetaData"
    )
