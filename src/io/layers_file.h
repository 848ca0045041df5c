// Layer files for `wino bench`: one convolution per line, "name N C K H W R S pad", with
// '#' starting a comment.
#pragma once

#include <istream>
#include <string>
#include <vector>

#include "wino/wino.h"

namespace wino::io {

struct Layer {
  std::string name;
  ConvDesc desc;
  int line = 0;  // 1-based line in the file
};

/// Parses a layer file's text. `filename` prefixes every error ("layers.txt:5: ..."). Throws
/// wino::Error for a malformed line (column count, a non-integer, a dimension out of range, an
/// empty output), a duplicate name, or a file without layers.
std::vector<Layer> parse_layers(std::istream& in, const std::string& filename);

/// Reads and parses a layer file; throws wino::Error when it cannot be read or is malformed.
std::vector<Layer> read_layers_file(const std::string& path);

/// The layers named in `names`, in that order (all of them when `names` is empty). Throws
/// wino::Error naming the file and listing its layers when a name is not there.
std::vector<const Layer*> select_layers(const std::vector<Layer>& layers,
                                        const std::vector<std::string>& names,
                                        const std::string& filename);

}  // namespace wino::io
