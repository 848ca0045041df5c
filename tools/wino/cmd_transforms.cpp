// `wino transforms`: the exact Winograd matrices of F(m, r) with their proof, costs and accuracy.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "args.h"
#include "commands.h"
#include "common/json.h"
#include "transforms/winograd.h"

namespace wino::cli {
namespace {

std::vector<Rational> parse_points(const std::string& text) {
  std::vector<Rational> points;
  for (const std::string& item : split_commas(text, "--points")) {
    try {
      points.push_back(Rational::parse(item));
    } catch (const Error& e) {
      throw UsageError(std::string("--points: ") + e.what());
    }
  }
  for (size_t i = 0; i < points.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (points[i] == points[j])
        throw UsageError("--points must be distinct, but " + points[i].str() + " appears twice");
  return points;
}

// Right-aligned columns, each as wide as its widest entry.
void print_matrix(std::ostream& out, const char* name, const RationalMatrix& m) {
  out << name << " (" << m.rows << " x " << m.cols << "):\n";
  std::vector<size_t> width(m.cols, 0);
  for (int i = 0; i < m.rows; ++i)
    for (int j = 0; j < m.cols; ++j) width[j] = std::max(width[j], m.at(i, j).str().size());
  for (int i = 0; i < m.rows; ++i) {
    out << " ";
    for (int j = 0; j < m.cols; ++j) {
      std::string s = m.at(i, j).str();
      out << std::string(width[j] - s.size() + 2, ' ') << s;
    }
    out << "\n";
  }
  out << "\n";
}

void print_cost_row(std::ostream& out, const char* name, const OpCount& one, const OpCount& two) {
  char line[128];
  std::snprintf(line, sizeof line, "  %-16s %8lld %8lld %10lld %8lld\n", name,
                static_cast<long long>(one.adds), static_cast<long long>(one.mults),
                static_cast<long long>(two.adds), static_cast<long long>(two.mults));
  out << line;
}

void json_matrix(JsonWriter& j, const char* name, const RationalMatrix& m) {
  j.key(name).begin_array();
  for (int i = 0; i < m.rows; ++i) {
    j.begin_array();
    for (int k = 0; k < m.cols; ++k) j.value(m.at(i, k).str());
    j.end_array();
  }
  j.end_array();
}

void json_ops(JsonWriter& j, const char* name, const OpCount& c) {
  j.key(name).begin_object().key("adds").value(c.adds).key("mults").value(c.mults).end_object();
}

void print_json(const WinogradTransforms& t, const Verification& v, const TransformCounts& c,
                const Fp32Error& e) {
  JsonWriter j;
  j.begin_object().key("m").value(t.m).key("r").value(t.r).key("alpha").value(t.alpha);
  j.key("points").begin_array();
  for (const Rational& p : t.points) j.value(p.str());
  j.end_array();
  json_matrix(j, "AT", t.AT);
  json_matrix(j, "G", t.G);
  json_matrix(j, "BT", t.BT);
  j.key("verified").value(v.ok()).key("verified_1d").value(v.ok_1d);
  j.key("verified_2d").value(v.ok_2d).key("verify_trials").value(v.trials);
  j.key("mults_per_tile").value(c.mults_per_tile);
  j.key("direct_mults_per_tile").value(c.direct_mults_per_tile);
  j.key("ops").begin_object();
  json_ops(j, "input_1d", c.input_1d);
  json_ops(j, "filter_1d", c.filter_1d);
  json_ops(j, "output_1d", c.output_1d);
  json_ops(j, "input_2d", c.input_2d);
  json_ops(j, "filter_2d", c.filter_2d);
  json_ops(j, "output_2d", c.output_2d);
  j.end_object();
  j.key("fp32_max_rel_err").value(e.max_rel).key("fp32_mean_rel_err").value(e.mean_rel);
  j.key("fp32_trials").value(e.trials).end_object();
  std::cout << j.str() << "\n";
}

void print_text(const WinogradTransforms& t, const Verification& v, const TransformCounts& c,
                const Fp32Error& e) {
  std::ostream& out = std::cout;
  out << "F(" << t.m << ", " << t.r << "): m = " << t.m << " outputs, r = " << t.r
      << " taps, alpha = " << t.alpha << "\n";
  out << "points: " << points_string(t.points) << "\n";
  out << "Y = AT [(G g G^T) .* (BT d B)] A\n\n";
  print_matrix(out, "AT", t.AT);
  print_matrix(out, "G", t.G);
  print_matrix(out, "BT", t.BT);

  char line[160];
  std::snprintf(line, sizeof line,
                "multiplications per %dx%d output tile: %lld Winograd vs %lld direct (%.2fx fewer)\n",
                t.m, t.m, static_cast<long long>(c.mults_per_tile),
                static_cast<long long>(c.direct_mults_per_tile),
                static_cast<double>(c.direct_mults_per_tile) / static_cast<double>(c.mults_per_tile));
  out << line << "transform costs (zeros skipped, +-1 folded):\n";
  out << "                    1D adds 1D mults    2D adds 2D mults\n";
  print_cost_row(out, "input  BT d B", c.input_1d, c.input_2d);
  print_cost_row(out, "filter G g G^T", c.filter_1d, c.filter_2d);
  print_cost_row(out, "output AT M A", c.output_1d, c.output_2d);
  out << "\n";

  auto verdict = [](bool ok) { return ok ? "exact" : "FAILED"; };
  out << "identity AT[(G g) .* (BT d)] = correlate(d, g): 1D " << verdict(v.ok_1d) << ", 2D "
      << verdict(v.ok_2d) << " (" << v.trials << " random rational inputs)\n";
  std::snprintf(line, sizeof line,
                "float32 error vs float64 direct (relative L2 per tile, %d random normal tiles): "
                "max %.3g, mean %.3g\n",
                e.trials, e.max_rel, e.mean_rel);
  out << line;
}

}  // namespace

int cmd_transforms(const Argv& argv) {
  Args args("transforms",
            "Print the exact Winograd matrices AT, G, BT of F(m, r) (Cook-Toom, alpha - 1 finite\n"
            "points plus infinity), their operation counts, an exact check of the identity and\n"
            "the measured float32 error of one tile.");
  args.option("m", "M", "outputs per tile along each axis (>= 1)", true);
  args.option("r", "R", "filter taps along each axis (>= 1); alpha = m + r - 1 <= 16", true);
  args.option("points", "P1,P2,...",
              "alpha - 1 distinct finite points, integers or fractions (default: low-error set)");
  args.option("trials", "N", "random tiles for the float32 error (default 1000)");
  args.option("seed", "S", "random seed of the check and the error measurement (default 1)");
  args.flag("json", "print one JSON object instead of text");
  args.epilog("examples:\n  wino transforms --m 4 --r 3\n  wino transforms --m 2 --r 3 --points 0,1,-1 --json");
  if (!args.parse(argv)) return 0;

  const int m = static_cast<int>(args.get_int("m", 1, kMaxAlpha));
  const int r = static_cast<int>(args.get_int("r", 1, kMaxAlpha));
  if (m + r - 1 > kMaxAlpha)
    throw UsageError("alpha = m + r - 1 = " + std::to_string(m + r - 1) + " exceeds the limit of " +
                     std::to_string(kMaxAlpha) + "; choose a smaller --m or --r");
  const int trials = static_cast<int>(args.get_int_opt("trials", 1, 10000000).value_or(1000));
  const auto seed = static_cast<uint64_t>(args.get_int_opt("seed", 0, INT64_MAX).value_or(1));
  std::optional<std::vector<Rational>> points;
  if (args.has("points")) {
    points = parse_points(args.get("points"));
    if (static_cast<int>(points->size()) != m + r - 2)
      throw UsageError("--points needs alpha - 1 = " + std::to_string(m + r - 2) +
                       " values for F(" + std::to_string(m) + ", " + std::to_string(r) +
                       ") (infinity is implied), got " + std::to_string(points->size()));
  }

  WinogradTransforms t = cook_toom(m, r, points);
  Verification v = verify(t, 8, seed);
  TransformCounts c = count_ops(t);
  Fp32Error e = measure_fp32_error(t, trials, seed);
  if (args.has("json")) print_json(t, v, c, e);
  else print_text(t, v, c, e);
  if (!v.ok()) {
    std::cerr << "wino transforms: error: the exact identity check failed for F(" << m << ", " << r
              << ")\n";
    return 1;
  }
  return 0;
}

}  // namespace wino::cli
