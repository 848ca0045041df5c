#include <gtest/gtest.h>

#include <cmath>

#include "common/error.h"
#include "common/json.h"
#include "common/random.h"
#include "common/tensor.h"

namespace wino {
namespace {

TEST(Json, WritesNestedDocumentsWithEscapes) {
  JsonWriter j;
  j.begin_object().key("a").value(1).key("s").value("x\"y\n").key("l").begin_array();
  j.value(true).value(2.5).null().end_array().key("nan").value(std::nan("")).end_object();
  EXPECT_EQ(j.str(), "{\"a\": 1, \"s\": \"x\\\"y\\n\", \"l\": [true, 2.5, null], \"nan\": null}");
}

TEST(Tensor, ShapeOverflowIsAnError) {
  EXPECT_THROW(shape_numel({int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(shape_numel({2, -1}), Error);
  EXPECT_EQ(shape_numel({2, 3, 4}), 24);
}

TEST(Tensor, WrongDtypeAccessThrows) {
  Tensor t(DType::f32, {2});
  EXPECT_THROW(t.f64(), Error);
  EXPECT_NO_THROW(t.f32());
}

TEST(Random, FixedSeedIsReproducibleAndNormal) {
  Tensor a = random_normal(DType::f64, {10000}, 7), b = random_normal(DType::f64, {10000}, 7);
  double sum = 0, sum2 = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    ASSERT_EQ(a.get(i), b.get(i));
    sum += a.get(i);
    sum2 += a.get(i) * a.get(i);
  }
  EXPECT_NEAR(sum / 10000, 0.0, 0.05);
  EXPECT_NEAR(sum2 / 10000, 1.0, 0.05);
  EXPECT_NE(random_normal(DType::f64, {4}, 8).get(0), a.get(0));
}

}  // namespace
}  // namespace wino
