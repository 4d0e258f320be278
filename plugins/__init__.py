"""The built-in commands, one plugin module each, registered like any team's plugin.

Installed as ``migrations_cli.plugins``: a top-level package named ``plugins`` would collide
with others in site-packages.
"""
