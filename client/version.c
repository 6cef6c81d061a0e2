#include "slcclient.h"

#include "revision.h" /* generated into the build directory by the Makefile */

const char slc_source_revision[] = SLC_SOURCE_REVISION;
