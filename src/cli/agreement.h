// Classifying a folder of images with one engine, and how closely two engines agree on
// it: what `kiln eval --compare` reports and what `kiln bench` prints for every reduced
// precision against FP32, because quantization trades accuracy for speed.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/classify.h"

namespace kiln::cli {

// Image files (.jpg .jpeg .png .bmp) under `dir`, recursively, sorted; throws naming the
// flag (`what`) when the folder is missing or holds none.
std::vector<std::string> list_images(const std::string& dir, const std::string& what);

struct ClassifiedImages {
  std::vector<std::vector<Prediction>> top5;  // per image
  std::vector<std::vector<float>> logits;     // per image
};

// Runs every image through `engine` in batches of `batch_size`; a model with a fixed
// batch (`fixed_batch`) gets full batches, the last one padded with copies. `progress`
// (may be empty) gets one line per batch.
ClassifiedImages classify_images(Engine& engine, const std::vector<std::string>& images, const image::Preprocess& pre,
                                 const std::vector<std::string>& labels, int batch_size, bool fixed_batch,
                                 const std::function<void(const std::string&)>& progress = {});

struct Agreement {
  size_t images = 0;
  size_t top1_agree = 0;     // images whose top-1 class is the reference's
  double top5_overlap = 0;   // mean fraction of the reference's top-5 found in this top-5
  double logits_rel_mean = 0, logits_rel_max = 0;  // ||got - ref|| / ||ref|| per image
};

Agreement compare_classifications(const ClassifiedImages& got, const ClassifiedImages& ref);
// "top-1 agreement 100.00% (6/6), top-5 overlap 96.67%, logits rel. error mean 0.0123, max 0.0201"
std::string format_agreement(const Agreement& a);
nlohmann::json agreement_to_json(const Agreement& a);

}  // namespace kiln::cli
