"""Upstream NequIP's ``nequip.scripts`` registration hooks for extension packages.

Extension packages (Allegro) register, when imported, what the export and packaging
commands need to know about their models: :mod:`nequip.scripts._compile_utils` (compile
targets) and :mod:`nequip.scripts._package_utils` (libraries kept out of packages). The
workspace's commands themselves are ``nequip-compile`` and ``nequip-package``
(:mod:`nequip.model.compile_cli`, :mod:`nequip.model.package_cli`).
"""
