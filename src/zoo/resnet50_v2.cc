// ResNet-50 v2 (pre-activation) as in TensorFlow's official reference graph
// (resnet_model.py, resnet_version=2, the graph behind TF-TRT's resnet_v2 SavedModel):
// BN + ReLU come before each conv; the projection shortcut is a bare strided 1x1 conv on
// the pre-activated input; the stem conv has no BN of its own; a final BN + ReLU follows
// the last block. Strides sit on the 3x3 convs. TensorFlow's "SAME" max pool pads only
// at the bottom/right, which the explicit pads reproduce.
#include <fmt/format.h>

#include "zoo/architectures.h"

namespace kiln::zoo {
namespace {

std::string preact_bottleneck(ModelBuilder& b, const std::string& prefix, const std::string& x, int filters,
                              int stride, bool projection) {
  const std::string preact = b.relu(prefix + ".preact_relu", b.batch_norm(prefix + ".preact_bn", x));
  const std::string shortcut = projection ? b.conv(prefix + ".shortcut", preact, filters * 4, 1, stride) : x;
  std::string y = b.conv(prefix + ".conv1", preact, filters, 1, 1);
  y = b.conv(prefix + ".conv2", b.relu(prefix + ".relu1", b.batch_norm(prefix + ".bn1", y)), filters, 3, stride);
  y = b.conv(prefix + ".conv3", b.relu(prefix + ".relu2", b.batch_norm(prefix + ".bn2", y)), filters * 4, 1, 1);
  return b.add(prefix + ".add", y, shortcut);
}

}  // namespace

std::string build_resnet50_v2(ModelBuilder& b) {
  std::string x = b.conv("stem.conv", "input", 64, 7, 2);
  x = b.max_pool("stem.maxpool", x, 3, 2, ConvGeometry{3, 2, 1, 0, 0, 1, 1});
  const int blocks[4] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    for (int i = 0; i < blocks[stage]; ++i)
      x = preact_bottleneck(b, fmt::format("block{}.unit{}", stage + 1, i + 1), x, 64 << stage,
                            (stage > 0 && i == 0) ? 2 : 1, i == 0);
  }
  x = b.relu("postnorm.relu", b.batch_norm("postnorm.bn", x));
  x = b.flatten("flatten", b.global_average_pool("avgpool", x));
  return b.classifier("dense", x, 1000, 0.1f, "logits");
}

}  // namespace kiln::zoo
