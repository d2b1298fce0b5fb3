"""The five stacks: top-level ComponentResources that ``__main__.py`` builds when
``stacks.<name>`` is on, and ``common`` (the Args fields every stack shares). A stack may
import blocks, parts, lib and config; nothing but ``__main__.py`` (and the tests) imports
a stack."""
