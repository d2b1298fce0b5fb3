"""The five stacks: top-level ComponentResources that ``__main__.py`` builds when
``stacks.<name>`` is on. A stack may import blocks, parts, lib and config; nothing but
``__main__.py`` (and the tests) imports a stack."""
