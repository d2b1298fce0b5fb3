"""The stack configuration: every ``mlplatform`` key as a typed, frozen setting, parsed
once from the engine's config and checked (one error naming every bad key) before any
resource exists. Imports lib only; stacks and ``__main__.py`` import it."""
