// MobileNet-v2 in torchvision's layout (width 1.0): inverted residual blocks of 1x1
// expansion, 3x3 depthwise and linear 1x1 projection, ReLU6 as Clip(0, 6), a residual
// Add where stride is 1 and the channel count is unchanged.
#include <fmt/format.h>

#include "zoo/architectures.h"

namespace kiln::zoo {
namespace {

std::string conv_bn(ModelBuilder& b, const std::string& prefix, const std::string& x, int out, int kernel,
                    int stride, int group, bool relu6) {
  std::string y = b.batch_norm(prefix + ".bn", b.conv(prefix + ".conv", x, out, kernel, stride, group));
  return relu6 ? b.relu6(prefix + ".relu6", y) : y;
}

std::string inverted_residual(ModelBuilder& b, const std::string& prefix, const std::string& x, int expand,
                              int out, int stride) {
  const int in = b.channels(x);
  const int hidden = in * expand;
  std::string y = x;
  if (expand != 1) y = conv_bn(b, prefix + ".expand", y, hidden, 1, 1, 1, true);
  y = conv_bn(b, prefix + ".depthwise", y, hidden, 3, stride, hidden, true);
  y = conv_bn(b, prefix + ".project", y, out, 1, 1, 1, false);
  return (stride == 1 && in == out) ? b.add(prefix + ".add", y, x) : y;
}

}  // namespace

std::string build_mobilenet_v2(ModelBuilder& b) {
  struct Stage { int expand, channels, repeats, stride; };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  std::string x = conv_bn(b, "features.0", "input", 32, 3, 2, 1, true);
  int index = 1;
  for (const Stage& s : stages)
    for (int i = 0; i < s.repeats; ++i, ++index)
      x = inverted_residual(b, fmt::format("features.{}", index), x, s.expand, s.channels, i == 0 ? s.stride : 1);
  x = conv_bn(b, fmt::format("features.{}", index), x, 1280, 1, 1, 1, true);
  x = b.flatten("flatten", b.global_average_pool("avgpool", x));
  return b.classifier("classifier", x, 1000, 1.f, "logits");
}

}  // namespace kiln::zoo
