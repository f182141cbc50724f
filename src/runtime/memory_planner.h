// The memory planner is part of kiln_core so that backends can use it; see engine/memory_planner.h.
#pragma once

#include "engine/memory_planner.h"
