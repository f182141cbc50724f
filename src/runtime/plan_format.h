// Plans are part of kiln_core so that backends can write them; see engine/plan_format.h.
#pragma once

#include "engine/plan_format.h"
