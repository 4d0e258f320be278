"""The example application whose schema this repository migrates."""
