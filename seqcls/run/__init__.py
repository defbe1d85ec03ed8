"""The run directory: its file names and atomic writes (artifacts), typed readers of
its files, creating and replacing it (directory), the manifest, and where commands
may write (destinations)."""
