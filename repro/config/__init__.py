"""Experiments as declared: keyframed schedules (dopesheet) and the experiment spec, read from
TOML, validated whole and resolved through `extends` (spec)."""
