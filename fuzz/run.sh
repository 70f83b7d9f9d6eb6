#!/usr/bin/env bash
# Runs the fuzz targets built by `cargo +nightly fuzz build -O -a -s none` (from fuzz/):
#
#   fuzz/run.sh RUNS [TARGET...]      # every target when none is named
#
# Each target starts from its committed seeds (fuzz/seeds/<target>) plus its working corpus
# (fuzz/corpus/<target>, git-ignored), runs RUNS executions on one core with the project's
# limits (a panic, a stack overflow, more than 2 GiB of memory or 10 s on one input is a crash),
# and writes a crashing input to fuzz/artifacts/<target>/. Exits non-zero on the first crash.
# Extra libFuzzer flags can be passed in FUZZ_FLAGS (e.g. FUZZ_FLAGS=-max_total_time=60).
set -euo pipefail
cd "$(dirname "$0")"

runs=${1:?usage: fuzz/run.sh RUNS [TARGET...]}
shift
bin_dir=target/x86_64-unknown-linux-gnu/release

# Longest input per target: a little over its largest seed.
max_len() {
    case $1 in
        calibration_json) echo 40000 ;;
        hardware_yaml | builtin_workloads) echo 20000 ;;
        vidur_profiles | prediction_tables | kernel_tables | vidur_config) echo 8192 ;;
        *) echo 4096 ;;
    esac
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(search_space sim_yaml vidur_config trace_csv vidur_profiles prediction_tables
        kernel_tables hardware_yaml hf_config calibration_json builtin_workloads measured)
fi
for t in "${targets[@]}"; do
    if [ ! -x "$bin_dir/$t" ]; then
        echo "error: $bin_dir/$t is not built (run: cd fuzz && cargo +nightly fuzz build -O -a -s none)" >&2
        exit 1
    fi
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== $t: $runs runs"
    # shellcheck disable=SC2086
    "$bin_dir/$t" "corpus/$t" "seeds/$t" -runs="$runs" -max_len="$(max_len "$t")" \
        -dict="dict/$t.dict" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
        2>"artifacts/$t/log.txt" || {
        tail -60 "artifacts/$t/log.txt" >&2
        echo "error: fuzz target $t crashed; the input is in fuzz/artifacts/$t/" >&2
        exit 1
    }
    grep -E '^(Done|stat::number_of_executed_units)' "artifacts/$t/log.txt" || true
done
