// `wino random`: fixed-seed random normal tensors as .npy files (inputs for run/reference).
#include <iostream>

#include "args.h"
#include "commands.h"
#include "common/random.h"
#include "io/npy.h"

namespace wino::cli {

int cmd_random(const Argv& argv) {
  Args args("random", "Write a tensor of standard normal values drawn from a fixed seed to a .npy file.");
  args.option("shape", "D0,D1,...", "tensor shape, e.g. 1,8,32,32 (each dimension >= 1)", true);
  args.option("output", "FILE.npy", "file to write (replaced if it exists)", true);
  args.option("seed", "S", "random seed (default 0)");
  args.option("dtype", "float32|float64", "element type (default float32)");
  args.epilog("example:\n  wino random --shape 1,8,32,32 --seed 1 --output x.npy");
  if (!args.parse(argv)) return 0;

  Shape shape;
  for (int64_t d : args.get_int_list("shape", 1, int64_t{1} << 40)) shape.push_back(d);
  if (shape.size() > 8) throw UsageError("--shape has more than 8 dimensions");
  int64_t numel = shape_numel(shape);
  if (numel > (int64_t{1} << 32))
    throw UsageError("--shape " + shape_string(shape) + " has more than 2^32 elements");
  std::string dtype = args.get_or("dtype", "float32");
  if (dtype != "float32" && dtype != "float64")
    throw UsageError("--dtype must be float32 or float64, got '" + dtype + "'");
  auto seed = static_cast<uint64_t>(args.get_int_opt("seed", 0, INT64_MAX).value_or(0));

  Tensor t = random_normal(dtype == "float32" ? DType::f32 : DType::f64, shape, seed);
  write_npy(args.get("output"), t);
  std::cerr << "wrote " << args.get("output") << ": " << dtype << " " << shape_string(shape)
            << ", seed " << seed << "\n";
  return 0;
}

}  // namespace wino::cli
