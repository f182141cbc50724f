// Calibration inputs read from a folder, prepared exactly as inference prepares them:
// images (JPEG, PNG, BMP) are decoded and preprocessed with the model's `kiln.preprocess`
// settings, so the calibrated ranges are the ranges the engine will see; `.npy` files are
// taken as tensors (a file of the input's rank is a whole batch, one rank lower a sample).
#pragma once

#include <string>
#include <vector>

#include "image/preprocess.h"
#include "ir/graph.h"
#include "quant/calibration.h"

namespace kiln::quant {

// The calibration files of `dir` in name order: every image, or every .npy file (a folder
// mixing both, or holding neither, is refused with a message naming the folder).
struct CalibrationFiles {
  std::vector<std::string> paths;
  bool npy = false;
};
CalibrationFiles list_calibration_files(const std::string& dir);

// Batches of `batch_size` samples for a single-input graph, at most `max_batches` batches
// (0 = all files). Throws naming the file when one cannot be read or has the wrong shape.
BatchSource folder_batch_source(const ir::Graph& graph, const std::string& dir, int batch_size, int max_batches,
                                const image::Preprocess& preprocess);

// True when the graph is explicitly quantized (QuantizeLinear / DequantizeLinear nodes):
// its scales come from the model, not from calibration.
bool has_qdq_nodes(const ir::Graph& graph);

// What an INT8 build of `graph` (the graph the backend receives) needs for its activation
// scales: a matching cache at `cache_path` is reused; otherwise the folder is calibrated and
// the table written to `cache_path`. Without data and without a usable cache it throws
// explaining how to provide calibration data.
CalibrationTable calibration_for_build(const ir::Graph& graph, const std::string& data_dir, int batches,
                                       const std::string& calibrator, const std::string& cache_path,
                                       const std::function<void(const std::string&)>& progress);

}  // namespace kiln::quant
