#!/usr/bin/env bash
# Continue training the bundled faces model on a lent GPU (the `device` tool), from data/faces32.
# Usage there: bash tools/gpu_train.sh MINUTES [more `python -m latentlab.train` options, e.g. --lr 1e-4]
# diffusers travels as wheels in .whl/ (carry it); the EMA pipeline comes back in $OUT/pipeline.
set -u
minutes=$1; shift
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
python3 -c "import torch, diffusers; print(torch.__version__, diffusers.__version__, torch.cuda.get_device_name())"
(while sleep 20; do [ -f /tmp/run/pipeline/model_index.json ] && cp -r /tmp/run/pipeline /tmp/run/log.txt $OUT/; done) &
timeout "$(python3 -c "import sys; print(int(float(sys.argv[1]) * 60) + 120)" "$minutes")" python3 -m latentlab.train --out /tmp/run --unet faces4 --batch 256 \
  --steps 1000000 --init data/faces32 --device cuda --minutes "$minutes" --ckpt-minutes 1 \
  --sample-every 1000000 "$@" > $OUT/train.log 2>&1
echo "train exit $?"
kill %1
tr '\r' '\n' < $OUT/train.log | tail -n 2
cp -r /tmp/run/pipeline $OUT/ && cp /tmp/run/log.txt /tmp/run/samples_*.png $OUT/
ls $OUT
