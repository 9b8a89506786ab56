"""The HTTP API (`/api/v1`): thin routes over the same services the CLI uses."""
