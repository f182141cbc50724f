// ResNet-50 v1.5 in torchvision's layout: the bottleneck's stride sits on its 3x3 conv
// (v1 put it on the first 1x1), every conv is followed by BatchNormalization, the
// shortcut is a strided 1x1 conv + BN where the shape changes.
#include <fmt/format.h>

#include "zoo/architectures.h"

namespace kiln::zoo {
namespace {

std::string bottleneck(ModelBuilder& b, const std::string& prefix, const std::string& x, int width, int stride) {
  const int out_channels = width * 4;
  std::string y = b.relu(prefix + ".relu1", b.batch_norm(prefix + ".bn1", b.conv(prefix + ".conv1", x, width, 1, 1)));
  y = b.relu(prefix + ".relu2", b.batch_norm(prefix + ".bn2", b.conv(prefix + ".conv2", y, width, 3, stride)));
  y = b.batch_norm(prefix + ".bn3", b.conv(prefix + ".conv3", y, out_channels, 1, 1));
  std::string shortcut = x;
  if (stride != 1 || b.channels(x) != out_channels)
    shortcut = b.batch_norm(prefix + ".downsample.1", b.conv(prefix + ".downsample.0", x, out_channels, 1, stride));
  return b.relu(prefix + ".relu3", b.add(prefix + ".add", y, shortcut));
}

}  // namespace

std::string build_resnet50_v1_5(ModelBuilder& b) {
  std::string x = b.relu("relu", b.batch_norm("bn1", b.conv("conv1", "input", 64, 7, 2)));
  x = b.max_pool("maxpool", x, 3, 2, ConvGeometry{3, 2, 1, 1, 1, 1, 1});
  const int blocks[4] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int width = 64 << stage;
    for (int i = 0; i < blocks[stage]; ++i)
      x = bottleneck(b, fmt::format("layer{}.{}", stage + 1, i), x, width, (stage > 0 && i == 0) ? 2 : 1);
  }
  x = b.flatten("flatten", b.global_average_pool("avgpool", x));
  return b.classifier("fc", x, 1000, 0.25f, "logits");
}

}  // namespace kiln::zoo
