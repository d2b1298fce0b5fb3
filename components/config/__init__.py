"""The stack configuration: every ``mlplatform`` key as a typed, frozen setting, parsed
once from the engine's config and checked (one error naming every bad key) before any
resource exists.

- ``fields.py``: the machinery: :func:`~components.config.fields.setting`, the check
  constructors and shared forms, ``ConfigError``, and the parser of one section.
- one module per section, holding its frozen dataclass(es) and the checks between its
  keys, so a stack's configuration is read in one place: ``network.py``, ``ingress.py``
  (the public load balancers), ``training.py``, ``inference.py``, ``data_platform.py``,
  ``agent_world.py``, ``quotas.py``.
- ``settings.py``: ``Settings``, composing the top-level keys and the sections; ``parse``
  and ``load``; the checks that span stacks (paths on a shared load balancer, the
  physical names the configuration derives). It re-exports what other code imports.

Why beside each other here, not each section inside its stack's module: the config must be
importable and checkable before any resource exists, by the unit tests, the offline plan
and ``parse`` itself, without importing ``pulumi_aws`` or any component. So the stacks
import their section from here, never the reverse.

Imports lib and ``preflight.naming`` only; stacks, blocks, ``__main__.py`` and
``offline/`` import it.
"""
