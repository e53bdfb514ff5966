// The dataplane's configuration: the settings (dataplane_config.hh) and how
// they are read from a config file and the command line (parse_args.hh).
#pragma once

#include "config/dataplane_config.hh"
#include "config/parse_args.hh"
