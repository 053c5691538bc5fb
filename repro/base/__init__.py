"""What every layer stands on: one-line errors (errors), reading user files and writing results
(files), where the project's folders are (paths), strict spec schemas (schema), progress
(progress), and the machine: platform, threads, environment record (machine)."""
