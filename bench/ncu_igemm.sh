#!/usr/bin/env bash
# Profiles igemm kernels of bench/int8_conv_probe with Nsight Compute on the GPU machine:
# for each "SHAPE|KERNEL" argument, runs the probe on that shape alone and profiles the first
# launch whose mangled name contains KERNEL (e.g. ILb0ELb1ELi128ELi64ELi8ELi1ELi3ELi4ELi2E for
# igemm_conv_kernel<false, true, 128, 64, 8, 1, 3, 4, 2>), writing OUT_DIR/NAME.txt (speed of
# light, pipes, instruction and warp-state statistics) and OUT_DIR/NAME.sass.csv.gz (executed
# instructions per SASS line).
#   usage: bench/ncu_igemm.sh PROBE OUT_DIR NAME "SHAPE|KERNEL" [NAME "SHAPE|KERNEL" ...]
set -uo pipefail
probe=${1:?int8_conv_probe}; out=${2:?output dir}; shift 2
ncu=$(command -v ncu || echo /usr/local/cuda/bin/ncu)
mkdir -p "$out"
while [ $# -ge 2 ]; do
  name=$1; shape=${2%%|*}; kernel=${2#*|}; shift 2
  KILN_PROBE_SHAPES="$shape" timeout 300 "$ncu" --clock-control none --kernel-name-base mangled \
    -k "regex:$kernel" -c 1 --import-source no \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section InstructionStats \
    --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
    --section MemoryWorkloadAnalysis --section SourceCounters \
    -o "$out/$name" -f "$probe" "$out/$name.probe.json" 256 int8 > "$out/$name.run.log" 2>&1
  echo "$name: ncu exit $?"
  "$ncu" --import "$out/$name.ncu-rep" --print-details all > "$out/$name.txt" 2>&1
  "$ncu" --import "$out/$name.ncu-rep" --page source --print-source sass --csv 2>/dev/null | gzip > "$out/$name.sass.csv.gz"
  rm -f "$out/$name.ncu-rep"
done
